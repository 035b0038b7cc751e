using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenReplica.Orleans;

namespace OpenReplica.LoadTest;

/// <summary>What a <see cref="ProcessCluster"/> runs: silo count, replication and the persistence stores its silos reach.</summary>
/// <param name="ExtraSiloArguments">Appended to every silo's command line (a tool's own <c>silo</c> options).</param>
/// <param name="CustomizeSilo">Adjusts a silo's process start (by silo index) before every start and restart: a wrapper, environment.</param>
/// <param name="ConfigureClient">Runs after the benchmark client configuration (a tool's own gateway list provider).</param>
internal sealed record ProcessClusterSpec(string Name, int Silos, ReplicationMode Mode, int Replicas, string? DataRoot, TimeSpan Lease,
    string? Redis = null, string? Postgres = null, IReadOnlyList<string>? ExtraSiloArguments = null,
    Action<int, System.Diagnostics.ProcessStartInfo>? CustomizeSilo = null, Action<IClientBuilder>? ConfigureClient = null,
    Action<ILoggingBuilder>? ConfigureClientLogging = null, long? LogMemoryBudgetMb = null, int? AcceptSpares = null);

/// <summary>
/// Silos as separate processes on loopback TCP (one <see cref="SiloProcess"/> each), started one after the other so
/// the replica roster (the first <c>ReplicationFactor</c> silos by start time) is all of them, and one Orleans client
/// in this process connected to every gateway.
/// </summary>
internal sealed class ProcessCluster : IAsyncDisposable
{
    private static readonly TimeSpan SiloStartBound = TimeSpan.FromSeconds(90);
    private readonly List<SiloProcess> _silos = [];
    private readonly List<string> _logFiles = [];
    private readonly List<string[]> _arguments = [];
    private IHost? _clientHost;

    private ProcessCluster(ProcessClusterSpec spec) => Spec = spec;

    public ProcessClusterSpec Spec { get; }
    public IClusterClient Client { get; private set; } = null!;

    /// <summary>Silo addresses in start order (index 0 is the primary: it holds the development membership table).</summary>
    public IReadOnlyList<string> Addresses => [.. _silos.Select(s => s.Address)];

    public static async Task<ProcessCluster> StartAsync(ProcessClusterSpec spec, string logDirectory, ILoggerProvider clientLogs,
        Action<string> status, CancellationToken cancellationToken)
    {
        var cluster = new ProcessCluster(spec);
        try
        {
            string clusterId = BenchmarkHosting.NewClusterId(spec.Name);
            var ports = BenchmarkHosting.FreePorts(2 * spec.Silos);
            int[] gatewayPorts = ports[spec.Silos..];
            (cluster.ClusterId, cluster.GatewayPorts) = (clusterId, gatewayPorts);
            for (int i = 0; i < spec.Silos; i++)
            {
                status($"starting silo process {i + 1} of {spec.Silos}");
                string log = Path.Combine(logDirectory, $"{spec.Name}-silo-{i}.log");
                cluster._logFiles.Add(log);
                cluster._arguments.Add([.. Arguments(spec, i, ports[i], gatewayPorts[i], ports[0], clusterId, log)]);
                cluster.SiloPorts.Add(ports[i]);
                cluster._silos.Add(await SiloProcess.StartAsync(cluster._arguments[i], SiloStartBound, cancellationToken, cluster.Customize(i)));
            }
            status("connecting the client");
            var client = new HostBuilder()
                .ConfigureLogging(l =>
                {
                    BenchmarkHosting.Logging(l, clientLogs);
                    spec.ConfigureClientLogging?.Invoke(l);
                })
                .UseOrleansClient(c =>
                {
                    c.ConfigureBenchmarkClient(gatewayPorts, clusterId);
                    spec.ConfigureClient?.Invoke(c);
                })
                .Build();
            cluster._clientHost = client;
            await client.StartAsync(cancellationToken).WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
            cluster.Client = client.Services.GetRequiredService<IClusterClient>();
            return cluster;
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }
    }

    private static IEnumerable<string> Arguments(ProcessClusterSpec spec, int index, int port, int gateway, int primary, string clusterId, string log)
    {
        string I(int v) => v.ToString(CultureInfo.InvariantCulture);
        yield return "--index"; yield return I(index);
        yield return "--port"; yield return I(port);
        yield return "--gateway"; yield return I(gateway);
        yield return "--primary"; yield return I(primary);
        yield return "--cluster-id"; yield return clusterId;
        yield return "--mode"; yield return spec.Mode.ToString();
        yield return "--replicas"; yield return I(spec.Replicas);
        yield return "--log"; yield return log;
        yield return "--lease-ms"; yield return I((int)spec.Lease.TotalMilliseconds);
        if (spec.DataRoot is not null) { yield return "--data"; yield return Path.Combine(spec.DataRoot, $"silo-{index}"); }
        if (spec.Redis is not null) { yield return "--redis"; yield return spec.Redis; }
        if (spec.Postgres is not null) { yield return "--postgres"; yield return spec.Postgres; }
        if (spec.LogMemoryBudgetMb is { } mb) { yield return "--log-memory-budget-mb"; yield return mb.ToString(CultureInfo.InvariantCulture); }
        if (spec.AcceptSpares is { } spares) { yield return "--accept-spares"; yield return I(spares); }
        foreach (string extra in spec.ExtraSiloArguments ?? []) yield return extra;
    }

    private Action<System.Diagnostics.ProcessStartInfo>? Customize(int index) =>
        Spec.CustomizeSilo is { } customize ? psi => customize(index, psi) : null;

    /// <summary>The Orleans cluster id (a tool may connect more clients: <see cref="BenchmarkHosting.ConfigureBenchmarkClient"/>).</summary>
    public string ClusterId { get; private set; } = "";

    /// <summary>Gateway port of each silo, in start order.</summary>
    public int[] GatewayPorts { get; private set; } = [];

    /// <summary>Silo-to-silo port of each silo, in start order.</summary>
    public List<int> SiloPorts { get; } = [];

    /// <summary>Process id of a silo (for SIGSTOP/SIGCONT).</summary>
    public int Pid(int index) => _silos[index].Pid;

    /// <summary>
    /// Starts a killed silo again with its original arguments (same ports, same data directory), so a Persisted silo
    /// recovers its log. The old process must have exited.
    /// </summary>
    public async Task RestartAsync(int index, CancellationToken cancellationToken)
    {
        await _silos[index].DisposeAsync();
        _silos[index] = await SiloProcess.StartAsync(_arguments[index], SiloStartBound, cancellationToken, Customize(index));
    }

    /// <summary>
    /// Starts one more silo process (new ports; in Persisted mode a new, empty data directory <c>silo-N</c>) and returns
    /// its index. Its gateway is not in the client's static list: a cluster that adds silos uses a membership table
    /// the client also reads its gateways from (<see cref="ProcessClusterSpec.ConfigureClient"/>).
    /// </summary>
    public async Task<int> AddSiloAsync(string logDirectory, CancellationToken cancellationToken)
    {
        int index = _silos.Count;
        var ports = BenchmarkHosting.FreePorts(2);
        string log = Path.Combine(logDirectory, $"{Spec.Name}-silo-{index}.log");
        _logFiles.Add(log);
        _arguments.Add([.. Arguments(Spec, index, ports[0], ports[1], SiloPorts[0], ClusterId, log)]);
        SiloPorts.Add(ports[0]);
        _silos.Add(await SiloProcess.StartAsync(_arguments[index], SiloStartBound, cancellationToken, Customize(index)));
        return index;
    }

    /// <summary>Orleans' graceful stop of one silo, bounded (see <see cref="SiloProcess.StopGracefullyAsync"/>).</summary>
    public Task<string> StopGracefullyAsync(int index, TimeSpan bound) => _silos[index].StopGracefullyAsync(bound);

    /// <summary>Silos started so far (stopped ones included), the indexes <see cref="AddSiloAsync"/> returns.</summary>
    public int Count => _silos.Count;

    public bool IsAlive(int index) => !_silos[index].HasExited;

    public int IndexOf(string siloAddress) => _silos.FindIndex(s => s.Address == siloAddress);

    /// <summary>kill -9 of one silo's process.</summary>
    public void Kill(int index) => _silos[index].Kill();

    /// <summary>Consensus messages queued (and dropped) by the live silos' replica transports.</summary>
    public async Task<ConsensusTraffic> ConsensusMessagesAsync()
    {
        var counts = await Task.WhenAll(_silos.Select(s => s.ConsensusMessagesAsync()));
        return counts.Aggregate(ConsensusTraffic.None, (sum, c) => sum + c);
    }

    /// <summary>Warnings and errors the silo processes logged (lines of their log files).</summary>
    public int LoggedProblems() => _logFiles.Where(File.Exists).Sum(f =>
    {
        try { return File.ReadLines(f).Count(l => !l.StartsWith(' ')); } catch (IOException) { return 0; }
    });

    public async ValueTask DisposeAsync()
    {
        if (_clientHost is { } client)
        {
            try { await client.StopAsync(new CancellationToken(canceled: true)).WaitAsync(TimeSpan.FromSeconds(5)); } catch { }
            try { client.Dispose(); } catch { }
        }
        await Task.WhenAll(_silos.Select(s => s.DisposeAsync().AsTask()));
    }
}

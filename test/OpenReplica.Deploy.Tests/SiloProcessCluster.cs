using System.Collections.Concurrent;
using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenReplica.Orleans;
using Orleans.Configuration;

namespace OpenReplica.Deploy.Tests;

/// <summary>
/// Silos of one deployment as separate OS processes (<c>dotnet OpenReplica.Deploy.dll ...</c>, the samples/Deploy host)
/// on 127.0.0.1, each with its own ports and data directory (Persisted mode), plus a client in this process using the
/// same clustering. Dispose kills every silo (and its process tree), stops the client and deletes the data.
/// Silos also exit by themselves when this process dies: they hold our pipe on their stdin.
/// </summary>
internal sealed class SiloProcessCluster : IAsyncDisposable
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);
    private readonly ConcurrentDictionary<int, Silo> _silos = new();
    private readonly ConcurrentQueue<string> _log = new();
    private readonly Func<Task> _forget;
    private IHost? _client;

    private SiloProcessCluster(DeploySettings settings, string root, Func<Task> forget)
    {
        Settings = settings;
        Root = root;
        _forget = forget;
    }

    public DeploySettings Settings { get; }

    /// <summary>Holds silo-N data directories.</summary>
    public string Root { get; }

    public IClusterClient Client => _client?.Services.GetRequiredService<IClusterClient>() ?? throw new InvalidOperationException("no client");

    /// <summary>The gateway port of every silo started so far.</summary>
    public IEnumerable<int> GatewayPorts => _silos.Values.Select(s => s.GatewayPort);

    /// <summary>The gateway port of silo <paramref name="number"/>.</summary>
    public int GatewayPortOf(int number) => _silos[number].GatewayPort;

    public IEnumerable<int> Running => _silos.Where(s => !s.Value.Process.HasExited).Select(s => s.Key).Order();

    /// <summary>A deployment with a fresh cluster id (so runs never see each other's silos in a shared store).</summary>
    public static SiloProcessCluster Create(ClusteringKind clustering, string connection, Func<DeploySettings, Task> forget)
    {
        string id = $"deploy-{clustering.ToString().ToLowerInvariant()}-{Guid.NewGuid():N}"[..36];
        var settings = new DeploySettings
        {
            Clustering = clustering,
            ClusterId = id,
            ServiceId = id,
            Redis = clustering == ClusteringKind.Redis ? connection : null,
            Postgres = clustering == ClusteringKind.Postgres ? connection : null,
            AdvertisedAddress = "127.0.0.1",
            FastFailureDetection = true,
        };
        string root = Path.Combine(Path.GetTempPath(), "openreplica-deploy-tests", id);
        Directory.CreateDirectory(root);
        return new SiloProcessCluster(settings, root, () => forget(settings));
    }

    /// <summary>Starts silos <paramref name="numbers"/> at once and waits until each prints its ready line.</summary>
    public Task StartSilosAsync(IEnumerable<int> numbers, CancellationToken cancellationToken) =>
        Task.WhenAll(numbers.Select(n => StartSiloAsync(n, cancellationToken)));

    /// <summary>
    /// Starts silo <paramref name="number"/>, with <paramref name="extraArgs"/> after the cluster's switches (later ones
    /// win). With localhost clustering silo 1 is the primary: start it first; its ports become the cluster's.
    /// </summary>
    public async Task StartSiloAsync(int number, CancellationToken cancellationToken, params string[] extraArgs)
    {
        // A port the kernel just handed out as free can be taken again before the silo binds it (ephemeral ports go to
        // outgoing connections of every test process running in parallel): a silo that fails for that reason alone is
        // started again on other ports, in the same data directory, as an operator would.
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await StartSiloOnceAsync(number, cancellationToken, extraArgs);
                return;
            }
            catch (InvalidOperationException e) when (attempt < 4 && e.Message.Contains("Address already in use", StringComparison.Ordinal))
            {
                Note(number, $"port taken before the silo bound it; starting it again on other ports (attempt {attempt + 1})");
            }
        }
    }

    private async Task StartSiloOnceAsync(int number, CancellationToken cancellationToken, string[] extraArgs)
    {
        var ports = FreePorts(3);
        if (Settings.Clustering == ClusteringKind.Localhost && number == 1)
        {
            (Settings.PrimarySiloPort, Settings.GatewayPort) = (ports[0], ports[1]);
        }

        string data = Path.Combine(Root, $"silo-{number}");
        Directory.CreateDirectory(data);
        var start = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = Root,
        };
        string[] args =
        [
            DeployHost(),
            "--clustering", Settings.Clustering.ToString().ToLowerInvariant(),
            "--cluster-id", Settings.ClusterId,
            "--service-id", Settings.ServiceId,
            "--silo-name", $"silo-{number}",
            "--advertise", "127.0.0.1",
            "--silo-port", $"{ports[0]}",
            "--gateway-port", $"{ports[1]}",
            "--data", data,
            "--mode", "Persisted",
            "--replication-factor", "3",
            "--call-timeout", CallTimeout.ToString(),
            "--fast-failure-detection", "true",
            "--exit-on-stdin-close", "true",
            "--metrics-port", $"{ports[2]}",
            "--primary-port", $"{Settings.PrimarySiloPort}",
            .. extraArgs,
        ];
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        // The connection string goes through the environment, not the command line (ps shows arguments).
        if (Settings.Redis is { } redis)
        {
            start.Environment["Deploy__Redis"] = redis;
        }

        if (Settings.Postgres is { } postgres)
        {
            start.Environment["Deploy__Postgres"] = postgres;
        }

        if (Settings.TlsPassword is { } password)
        {
            start.Environment["Deploy__TlsPassword"] = password;
        }

        start.Environment["DOTNET_gcServer"] = "0";
        start.Environment["DOTNET_TieredPGO"] = "0"; // less JIT work on a loaded 2-core machine

        var ready = new TaskCompletionSource<int>(TaskCreationOptions.RunContinuationsAsynchronously);
        var process = new Process { StartInfo = start, EnableRaisingEvents = true };
        process.OutputDataReceived += (_, e) => OnLine(e.Data);
        process.ErrorDataReceived += (_, e) => OnLine(e.Data);
        process.Exited += (_, _) =>
        {
            // Wait for the last lines of output (they can arrive after the exit event): the reason is in them.
            process.WaitForExit();
            ready.TrySetException(new InvalidOperationException(
                $"silo-{number} exited with code {SafeExitCode(process)} before it was ready:\n{Tail(number, 40)}"));
        };
        process.Start();
        _silos[number] = new Silo(number, process, data, ports[2], ports[1]);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        Note(number, $"started pid {process.Id}: silo port {ports[0]}, gateway {ports[1]}, data {data}");
        try
        {
            await ready.Task.WaitAsync(TimeSpan.FromSeconds(60), cancellationToken);
        }
        catch (TimeoutException)
        {
            throw new TimeoutException($"silo-{number} did not print '{SiloHost.ReadyLine}' within 60 s:\n{Tail(number, 40)}");
        }

        void OnLine(string? line)
        {
            if (line is null)
            {
                return;
            }

            Note(number, line);
            if (line.StartsWith(SiloHost.ReadyLine, StringComparison.Ordinal))
            {
                ready.TrySetResult(process.Id);
            }
        }
    }

    /// <summary>Starts the in-test client: same clustering (gateways come from the membership store), exactly-once retries.</summary>
    public async Task StartClientAsync(CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.SetMinimumLevel(LogLevel.Warning);
        builder.UseOrleansClient(client =>
        {
            client.UseClustering(Settings).UseDeploymentTls(Settings);
            // The defaults, as the README says: a call sent through a gateway that is then killed is retried with its
            // stamp as soon as the connection closes, not after Orleans' ResponseTimeout.
            client.UseReplicatedGrains();
        });
        _client = builder.Build();
        await _client.StartAsync(cancellationToken);
    }

    /// <summary>Waits (bounded) for silo <paramref name="number"/> to exit by itself; its exit code, or null if it still runs.</summary>
    public async Task<int?> WaitForExitAsync(int number, TimeSpan limit, CancellationToken cancellationToken)
    {
        var process = _silos[number].Process;
        using var wait = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        wait.CancelAfter(limit);
        try
        {
            await process.WaitForExitAsync(wait.Token);
            return process.ExitCode;
        }
        catch (OperationCanceledException) when (!cancellationToken.IsCancellationRequested)
        {
            return null;
        }
    }

    /// <summary>Kills the silo process at once (SIGKILL to its whole tree): no shutdown, no flush.</summary>
    public void Kill(int number)
    {
        var silo = _silos[number];
        Note(number, $"killing pid {silo.Process.Id}");
        silo.Process.Kill(entireProcessTree: true);
        silo.Process.WaitForExit(10_000);
    }

    public int SiloOfProcess(int processId) =>
        _silos.Values.SingleOrDefault(s => s.Process.Id == processId)?.Number
        ?? throw new InvalidOperationException($"no silo of this cluster runs in process {processId}");

    /// <summary>The last lines every silo printed (for failure messages).</summary>
    public string Logs(int linesPerSilo = 30) =>
        string.Join("\n", _silos.Keys.Order().Select(n => $"--- silo-{n} ---\n{Tail(n, linesPerSilo)}"));

    public async ValueTask DisposeAsync()
    {
        if (_client is { } client)
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await client.StopAsync(stop.Token);
            }
            catch (Exception)
            {
                // The cluster is going away anyway.
            }

            client.Dispose();
        }

        foreach (var silo in _silos.Values)
        {
            try
            {
                if (!silo.Process.HasExited)
                {
                    silo.Process.Kill(entireProcessTree: true);
                }

                silo.Process.WaitForExit(10_000);
            }
            catch (Exception)
            {
                // Already gone.
            }
            finally
            {
                silo.Process.Dispose();
            }
        }

        await _forget();
        for (int attempt = 0; attempt < 5 && Directory.Exists(Root); attempt++)
        {
            try
            {
                Directory.Delete(Root, recursive: true);
            }
            catch (IOException)
            {
                await Task.Delay(200);
            }
        }
    }

    private void Note(int silo, string line) => _log.Enqueue($"silo-{silo}|{line}");

    private string Tail(int silo, int lines)
    {
        string prefix = $"silo-{silo}|";
        return string.Join("\n", _log.Where(l => l.StartsWith(prefix, StringComparison.Ordinal)).TakeLast(lines)
            .Select(l => l[prefix.Length..] is var s && s.Length > 400 ? s[..400] + "..." : l[prefix.Length..]));
    }

    private static int? SafeExitCode(Process process)
    {
        try
        {
            return process.ExitCode;
        }
        catch (InvalidOperationException)
        {
            return null;
        }
    }

    /// <summary>The dotnet host running this test process (set by the dotnet CLI), else the one on PATH.</summary>
    private static string DotnetHost() =>
        Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
        : Path.GetFileNameWithoutExtension(Environment.ProcessPath) == "dotnet" ? Environment.ProcessPath!
        : "dotnet";

    /// <summary>The silo host, built next to the tests through the project reference.</summary>
    private static string DeployHost()
    {
        string path = Path.Combine(AppContext.BaseDirectory, "OpenReplica.Deploy.dll");
        if (!File.Exists(path) || !File.Exists(Path.ChangeExtension(path, ".runtimeconfig.json")))
        {
            throw new FileNotFoundException($"the silo host is not next to the tests: {path} (and its .runtimeconfig.json)");
        }

        return path;
    }

    private static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        listeners.ForEach(l => l.Start());
        var ports = listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port).ToArray();
        listeners.ForEach(l => l.Stop());
        return ports;
    }

    private sealed record Silo(int Number, Process Process, string DataDirectory, int MetricsPort, int GatewayPort);

    /// <summary>Where silo <paramref name="number"/> serves its metrics in Prometheus format.</summary>
    public Uri MetricsUrl(int number) => new($"http://localhost:{_silos[number].MetricsPort}/metrics");
}

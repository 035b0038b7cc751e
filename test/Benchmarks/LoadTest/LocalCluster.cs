using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenReplica.Orleans;
using Orleans.Configuration;
using Orleans.Runtime;

namespace OpenReplica.LoadTest;

/// <summary>
/// Three silos hosted in this process, each its own <see cref="IHost"/> with <c>UseLocalhostClustering</c> on its own
/// loopback TCP ports (silo-to-silo and gateway traffic go through real sockets), plus one external Orleans client
/// connected to all three gateways. Silos start one after the other, so the replica roster (first 3 silos by start
/// time) is all three.
/// </summary>
internal sealed class LocalCluster : IAsyncDisposable
{
    private readonly List<IHost?> _silos = [];
    private IHost? _clientHost;

    public required ReplicationMode Mode { get; init; }
    public string? DataRoot { get; init; }
    public List<SiloAddress> Addresses { get; } = [];
    public IClusterClient Client { get; private set; } = null!;

    /// <summary>
    /// Faster failure detection than Orleans' defaults (10 s probes), but not the tests' 100 ms: under load on two
    /// shared cores a 100 ms probe timeout declares live silos dead. A silo that misses 3 probes of 1 s is declared
    /// dead by one vote.
    /// </summary>
    public static void FastMembership(ClusterMembershipOptions o)
    {
        o.ProbeTimeout = TimeSpan.FromSeconds(1);
        o.NumMissedProbesLimit = 3;
        o.NumVotesForDeathDeclaration = 1;
        o.EnableIndirectProbes = false;
        o.TableRefreshTimeout = TimeSpan.FromMilliseconds(500);
        o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(2);
    }

    /// <summary>Silos' CallTimeout in the load test; the client's response timeout sits just above it (README advice).</summary>
    public static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(5);

    /// <param name="configureSilo">
    /// Runs on every silo after the tool's own settings, so it can override them (the scale run sets
    /// <c>SnapshotEveryCommands</c> per cluster).
    /// </param>
    public static async Task<LocalCluster> StartAsync(ReplicationMode mode, string? dataRoot, ILoggerProvider logs, CancellationToken cancellationToken,
        Action<ISiloBuilder>? configureSilo = null)
    {
        var cluster = new LocalCluster { Mode = mode, DataRoot = dataRoot };
        string clusterId = BenchmarkHosting.NewClusterId(mode.ToString());
        var ports = BenchmarkHosting.FreePorts(6);
        int[] gatewayPorts = [ports[3], ports[4], ports[5]];

        for (int i = 0; i < 3; i++)
        {
            var spec = new SiloSpec(i, ports[i], gatewayPorts[i], ports[0], clusterId, mode,
                mode == ReplicationMode.Persisted ? Path.Combine(dataRoot!, $"silo-{i}") : null, Replicas: 3);
            var host = new HostBuilder()
                .ConfigureLogging(l => BenchmarkHosting.Logging(l, logs))
                .UseOrleans(silo =>
                {
                    silo.ConfigureBenchmarkSilo(spec);
                    configureSilo?.Invoke(silo);
                })
                .Build();
            await host.StartAsync(cancellationToken);
            cluster._silos.Add(host);
            cluster.Addresses.Add(host.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress);
        }

        var client = new HostBuilder()
            .ConfigureLogging(l => BenchmarkHosting.Logging(l, logs))
            .UseOrleansClient(c => c.ConfigureBenchmarkClient(gatewayPorts, clusterId))
            .Build();
        await client.StartAsync(cancellationToken);
        cluster._clientHost = client;
        cluster.Client = client.Services.GetRequiredService<IClusterClient>();
        return cluster;
    }

    public bool IsAlive(int index) => _silos[index] is not null;

    /// <summary>The service providers of the live silos (for tools that read silo-side counters).</summary>
    public IEnumerable<IServiceProvider> LiveSiloServices() => _silos.OfType<IHost>().Select(h => h.Services);

    /// <summary>Consensus messages queued by the replica transports of the live silos (a public counter of the library).</summary>
    public ConsensusTraffic ConsensusMessages()
    {
        long total = 0, dropped = 0, batches = 0;
        foreach (var silo in _silos)
        {
            if (silo is null) continue;
            try
            {
                var transport = silo.Services.GetRequiredService<ReplicaTransport>();
                total += transport.Enqueued;
                dropped += transport.Dropped;
                batches += transport.BatchesDelivered;
            }
            catch (ObjectDisposedException)
            {
            }
        }
        return new ConsensusTraffic(total, batches, dropped);
    }

    /// <summary>Stops a silo abruptly: a cancelled stop token is Orleans' ungraceful shutdown (no goodbye to membership).</summary>
    public async Task KillAsync(int index)
    {
        var host = _silos[index] ?? throw new InvalidOperationException($"silo {index} is already dead");
        _silos[index] = null;
        try
        {
            await host.StopAsync(new CancellationToken(canceled: true)).WaitAsync(TimeSpan.FromSeconds(10));
        }
        catch (Exception)
        {
            // An ungraceful stop may throw; the silo is gone either way.
        }
        _ = Task.Run(() => { try { host.Dispose(); } catch { } });
    }

    public async ValueTask DisposeAsync()
    {
        using var deadline = new CancellationTokenSource(TimeSpan.FromSeconds(15));
        if (_clientHost is { } client)
        {
            try { await client.StopAsync(deadline.Token).WaitAsync(TimeSpan.FromSeconds(10)); } catch { }
            try { client.Dispose(); } catch { }
        }
        for (int i = _silos.Count - 1; i >= 0; i--)
        {
            if (_silos[i] is not { } silo) continue;
            try { await silo.StopAsync(deadline.Token).WaitAsync(TimeSpan.FromSeconds(15)); } catch { }
            try { silo.Dispose(); } catch { }
        }
    }
}

/// <summary>
/// Silos' and client's log entries go to a file (not the console): warnings and errors (<see cref="BenchmarkHosting.Logging"/>'s
/// minimum level), plus what a tool's category filters let through; <see cref="Count"/> counts warnings and errors.
/// </summary>
internal sealed class FileLoggerProvider(string path) : ILoggerProvider
{
    private readonly StreamWriter _writer = new(path, append: false) { AutoFlush = true };
    private readonly Lock _lock = new();
    private int _count;

    public string Path => path;
    public int Count => Volatile.Read(ref _count);

    public ILogger CreateLogger(string categoryName) => new FileLogger(this, categoryName);

    public void Dispose()
    {
        lock (_lock) _writer.Dispose();
    }

    private void Write(string category, LogLevel level, string message, Exception? exception)
    {
        if (level >= LogLevel.Warning) Interlocked.Increment(ref _count);
        lock (_lock)
        {
            try
            {
                _writer.WriteLine($"{DateTime.UtcNow:HH:mm:ss.fff} {level} {category}: {message}");
                if (exception is not null) _writer.WriteLine("    " + exception.GetType().Name + ": " + exception.Message);
            }
            catch (ObjectDisposedException)
            {
            }
        }
    }

    private sealed class FileLogger(FileLoggerProvider owner, string category) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        // The logging framework's filters (minimum level, category rules) have already chosen what reaches a provider.
        public bool IsEnabled(LogLevel logLevel) => logLevel != LogLevel.None;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (IsEnabled(logLevel)) owner.Write(category, logLevel, formatter(state, exception), exception);
        }
    }
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenReplica.Orleans.Replication;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A TestingHost cluster for scale-out tests: a short settling period so new silos join the roster quickly, fault
/// domains assigned round-robin as silos start (when asked), and helpers that read each silo's roster and held groups.
/// </summary>
internal sealed class ScaleOutCluster : IAsyncDisposable
{
    private readonly List<InProcessSiloHandle> _stopped = [];

    private ScaleOutCluster(InProcessTestCluster cluster, string root)
    {
        Cluster = cluster;
        Root = root;
    }

    public InProcessTestCluster Cluster { get; }

    public string Root { get; }

    public IClusterClient Client => Cluster.Client;

    public static async Task<ScaleOutCluster> StartAsync(int silos, ReplicationMode mode, int domains = 0, Action<ReplicatedGrainsOptions>? configure = null)
    {
        string root = Path.Combine(Path.GetTempPath(), "openreplica-tests", Guid.NewGuid().ToString("N"));
        int started = 0;
        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.ConfigureSilo((options, silo) =>
        {
            int index = Interlocked.Increment(ref started) - 1;
            silo.AddReplicatedGrains(o =>
            {
                o.Mode = mode;
                // A new, empty directory per silo name: a replacement silo never reuses a stopped one's data.
                o.DataDirectory = mode == ReplicationMode.Persisted ? Path.Combine(root, $"{options.SiloName}-{index}") : null;
                o.CallTimeout = TimeSpan.FromSeconds(5);
                o.RosterSettlingPeriod = TimeSpan.FromMilliseconds(300);
                o.ReplacementGracePeriod = TimeSpan.FromSeconds(5);
                o.RebalanceInterval = TimeSpan.FromMilliseconds(200);
                o.RebalanceConcurrency = 16;
                o.DecommissionTimeout = TimeSpan.FromSeconds(25);
                o.FaultDomain = domains > 0 ? $"rack-{index % domains}" : null;
                configure?.Invoke(o);
            });
            TestCluster3.ConfigureFastMembership(silo.Services);
            if (FileLoggerProvider.PathFromEnvironment is { } log)
            {
                silo.Services.AddLogging(l => l.AddProvider(new FileLoggerProvider(log, $"{options.SiloName}-{index}")).SetMinimumLevel(LogLevel.Debug));
            }
        });
        builder.ConfigureClient(client =>
        {
            client.UseReplicatedGrains(o =>
            {
                o.MaxRetries = 40;
                o.InitialBackoff = TimeSpan.FromMilliseconds(20);
                o.MaxBackoff = TimeSpan.FromMilliseconds(250);
            });
            client.Services.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromMilliseconds(500));
            if (FileLoggerProvider.PathFromEnvironment is { } log)
            {
                client.Services.AddLogging(l => l.AddProvider(new FileLoggerProvider(log, "client")).SetMinimumLevel(LogLevel.Debug));
            }
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        var scale = new ScaleOutCluster(cluster, root);
        await scale.WaitRosterIsEveryLiveSiloAsync();
        return scale;
    }

    public IReadOnlyList<InProcessSiloHandle> Silos => Cluster.Silos;

    public T Service<T>(InProcessSiloHandle silo)
        where T : notnull => Cluster.Service<T>(silo.SiloAddress);

    public long ReplicaIdOf(InProcessSiloHandle silo) => Service<ReplicaRoster>(silo).LocalReplicaId;

    /// <summary>Waits until every live silo's roster is exactly the live silos.</summary>
    public Task WaitRosterIsEveryLiveSiloAsync() => Poll.UntilAsync(() =>
    {
        var live = Silos.Select(ReplicaIdOf).Order().ToList();
        return Silos.All(s => Service<ReplicaRoster>(s).Current is { } current && current.Members.SequenceEqual(live));
    }, "the roster of every silo is every live silo", TimeSpan.FromSeconds(60));

    /// <summary>
    /// Waits until the rebalancers have nothing left to move: on every silo, a pass against the current roster found
    /// every group it holds on its replica set.
    /// </summary>
    public async Task WaitBalancedAsync(TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(90));
        while (!Silos.All(s => Service<Rebalancer>(s).Progress is var p && p.RosterVersion == Service<ReplicaRoster>(s).Version && p.GroupsMisplaced == 0))
        {
            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail("Timed out waiting until every silo's rebalancer found all its groups in place: "
                    + string.Join("; ", Silos.Select(s => $"{ReplicaIdOf(s)} roster v{Service<ReplicaRoster>(s).Version} {Service<Rebalancer>(s).Progress}")));
            }
            await Task.Delay(50);
        }
    }

    /// <summary>
    /// Per group, the holders once every group has at least <paramref name="replicas"/> of them. A follower's replica is
    /// created by the first message that reaches it: a write acknowledged by two of three replicas can leave the third
    /// one still to be created for a moment (a group that never gets it fails the wait).
    /// </summary>
    public async Task<Dictionary<string, SortedSet<long>>> HoldersOnceCreatedAsync(IReadOnlyCollection<string> groupIds, int replicas)
    {
        await Poll.UntilAsync(() => Task.FromResult(Holders(groupIds).Values.All(h => h.Count >= replicas)),
            "every group's replicas created", TimeSpan.FromSeconds(30));
        return Holders(groupIds);
    }

    /// <summary>Per group (of the given grain keys), the replica ids of the silos that hold a replica of it.</summary>
    public Dictionary<string, SortedSet<long>> Holders(IEnumerable<string> groupIds)
    {
        var wanted = groupIds.ToHashSet();
        var holders = wanted.ToDictionary(g => g, _ => new SortedSet<long>());
        foreach (var silo in Silos)
        {
            long id = ReplicaIdOf(silo);
            foreach (string group in Service<ReplicationRuntime>(silo).HeldGroupIds())
            {
                if (wanted.Contains(group)) holders[group].Add(id);
            }
        }
        return holders;
    }

    public async Task StopGracefullyAsync(InProcessSiloHandle silo)
    {
        await Cluster.StopSiloAsync(silo);
        _stopped.Add(silo);
    }

    public async ValueTask DisposeAsync()
    {
        // The test is over: no hand-over needed, so stop the silos at once rather than one graceful leave each.
        foreach (var silo in Silos.ToList()) await silo.StopSiloAsync(stopGracefully: false);
        await Cluster.DisposeAsync();
        try
        {
            if (Directory.Exists(Root)) Directory.Delete(Root, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

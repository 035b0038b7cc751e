using Microsoft.Extensions.Logging;
using Microsoft.Extensions.DependencyInjection;
using OpenReplica.Orleans.Testing;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace OpenReplica.Orleans.Tests;

/// <summary>A TestingHost cluster running replicated grains on real consensus, each silo with its own data directory.</summary>
internal static class ConsensusCluster
{
    public static async Task<(InProcessTestCluster Cluster, string DataRoot)> StartAsync(
        int silos, ReplicationMode mode = ReplicationMode.Persisted, int replicationFactor = 3, TimeSpan? callTimeout = null,
        int snapshotEvery = ReplicatedGrainsOptions.DefaultSnapshotEveryCommands, TimeSpan? replacementGrace = null,
        TimeSpan? idleGroupEviction = null)
    {
        string root = Path.Combine(Path.GetTempPath(), "openreplica-tests", Guid.NewGuid().ToString("N"));
        var builder = new InProcessTestClusterBuilder((short)silos);
        builder.ConfigureSilo((options, silo) =>
        {
            silo.AddReplicatedGrains(o =>
            {
                o.ReplicationFactor = replicationFactor;
                o.Mode = mode;
                o.DataDirectory = mode == ReplicationMode.Persisted ? Path.Combine(root, options.SiloName) : null;
                o.CallTimeout = callTimeout ?? TimeSpan.FromSeconds(5);
                o.SnapshotEveryCommands = snapshotEvery;
                o.ReplacementGracePeriod = replacementGrace ?? ReplicatedGrainsOptions.DefaultReplacementGracePeriod;
                o.IdleGroupEvictionAfter = idleGroupEviction ?? ReplicatedGrainsOptions.DefaultIdleGroupEvictionAfter;
            });
            ReplicatedTestCluster.UseFastFailureDetection(silo.Services);
            if (FileLoggerProvider.PathFromEnvironment is { } log)
            {
                silo.Services.AddLogging(l => l.AddProvider(new FileLoggerProvider(log, options.SiloName)).SetMinimumLevel(LogLevel.Debug));
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
            // A call in flight to a silo that dies gets no answer until this timeout; keep it near CallTimeout so the
            // stamping filter retries soon (as the README advises).
            client.Services.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = (callTimeout ?? TimeSpan.FromSeconds(5)) + TimeSpan.FromSeconds(2));
        });
        var cluster = builder.Build();
        await cluster.DeployAsync();
        return (cluster, root);
    }

    /// <summary>
    /// A grain of the given key prefix whose activation is not on the first silo (so the test's client gateway and
    /// the in-process membership host survive when the test kills the grain's silo).
    /// </summary>
    public static async Task<IAccountGrain> AccountAwayFromFirstSiloAsync(this InProcessTestCluster cluster, string prefix)
    {
        for (int i = 0; i < 100; i++)
        {
            var grain = cluster.Client.GetGrain<IAccountGrain>($"{prefix}-{i}");
            if (!(await grain.GetSilo()).Equals(cluster.Silos[0].SiloAddress)) return grain;
        }
        throw new InvalidOperationException("every grain landed on the first silo");
    }

    public static InProcessSiloHandle HandleOf(this InProcessTestCluster cluster, SiloAddress silo) =>
        cluster.Silos.Single(s => s.SiloAddress.Equals(silo));

    /// <summary>Kills a silo abruptly and waits until membership declares it dead (no fixed sleep).</summary>
    public static async Task KillAndWaitDeadAsync(this InProcessTestCluster cluster, InProcessSiloHandle silo)
    {
        await cluster.KillSiloAsync(silo);
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        await Poll.UntilAsync(async () =>
        {
            try
            {
                var hosts = await management.GetHosts(onlyActive: true);
                return !hosts.ContainsKey(silo.SiloAddress);
            }
            catch (Exception)
            {
                return false;
            }
        }, $"silo {silo.SiloAddress} declared dead", TimeSpan.FromSeconds(30));
    }
}

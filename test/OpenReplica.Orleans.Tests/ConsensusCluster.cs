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
    /// <summary>
    /// A cluster from the test kit (<see cref="ReplicatedTestCluster"/>: fast failure detection, quick client retries);
    /// the caller disposes the returned TestingHost cluster. With OPENREPLICA_TEST_LOG set, silos also log to a file.
    /// </summary>
    public static async Task<(InProcessTestCluster Cluster, string DataRoot)> StartAsync(
        int silos, ReplicationMode mode = ReplicationMode.Persisted, int replicationFactor = 3, TimeSpan? callTimeout = null,
        int snapshotEvery = ReplicatedGrainsOptions.DefaultSnapshotEveryCommands, TimeSpan? replacementGrace = null,
        TimeSpan? idleGroupEviction = null, int snapshotOnDeactivationAfter = ReplicatedGrainsOptions.DefaultSnapshotOnDeactivationAfterCommands)
    {
        var kit = await ReplicatedTestCluster.StartAsync(o =>
        {
            o.Silos = silos;
            o.Mode = mode;
            o.ReplicationFactor = replicationFactor;
            o.CallTimeout = callTimeout ?? ReplicatedTestClusterOptions.DefaultCallTimeout;
            o.ConfigureReplication = r =>
            {
                r.SnapshotEveryCommands = snapshotEvery;
                r.SnapshotOnDeactivationAfterCommands = snapshotOnDeactivationAfter;
                r.ReplacementGracePeriod = replacementGrace ?? ReplicatedGrainsOptions.DefaultReplacementGracePeriod;
                r.IdleGroupEvictionAfter = idleGroupEviction ?? ReplicatedGrainsOptions.DefaultIdleGroupEvictionAfter;
            };
            o.ConfigureSilo = FileLoggerProvider.AddTo;
        });
        return (kit.Cluster, kit.DataRoot ?? "");
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

using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A replica whose silo stays dead past the grace period is replaced through the meta group's log; the grain's
/// group moves to the new replica set through its own log, and the new replica catches up: the grain then
/// survives the loss of a second original replica.
/// </summary>
public sealed class ReplacementTests
{
    private static ReplicationRuntime Runtime(InProcessTestCluster cluster, SiloAddress silo) => cluster.Service<ReplicationRuntime>(silo);

    /// <summary>Every live silo's replica of the group (for a failure message).</summary>
    private static async Task<string> DescribeAsync(InProcessTestCluster cluster, string groupId)
    {
        var lines = new List<string>();
        foreach (var silo in cluster.Silos) lines.Add($"{silo.Name}: {await Runtime(cluster, silo.SiloAddress).DescribeAsync(groupId)}");
        return string.Join(Environment.NewLine, lines);
    }

    [Fact]
    public async Task A_dead_replica_is_replaced_and_the_new_one_catches_up()
    {
        var (cluster, _) = await ConsensusCluster.StartAsync(4, replacementGrace: TimeSpan.FromSeconds(1));
        await using var _ = cluster;
        var first = cluster.Silos[0].SiloAddress;
        var grain = await cluster.AccountAwayFromFirstSiloAsync("replace");
        string groupId = ReplicationRuntime.GroupIdOf(grain.GetGrainId(), 3);
        for (int i = 0; i < 10; i++) await grain.Deposit(1);

        var roster = Runtime(cluster, first).Roster;
        var spareSilo = cluster.Silos.Single(s => !roster.Current!.Contains(Runtime(cluster, s.SiloAddress).Roster.LocalReplicaId));
        long spareId = Runtime(cluster, spareSilo.SiloAddress).Roster.LocalReplicaId;

        var victim = await grain.GetSilo();
        long victimId = Runtime(cluster, victim).Roster.LocalReplicaId;
        await cluster.KillAndWaitDeadAsync(cluster.HandleOf(victim));
        for (int i = 0; i < 10; i++) await grain.Deposit(1);

        // The meta group replaces the dead replica with the spare...
        await Poll.UntilAsync(() => roster.Current!.Contains(spareId) && !roster.Current.Contains(victimId), "roster replaced the dead replica", TimeSpan.FromSeconds(60));
        // ...and the grain's leader moves its group there; the spare learns the whole log.
        await grain.Deposit(1);
        await Poll.UntilAsync(async () =>
        {
            var group = Runtime(cluster, spareSilo.SiloAddress).LoadHeld(groupId); // from disk if it left memory meanwhile
            if (group is null) return false;
            var (config, commit) = await group.AskAsync(core => ((core.Config, core.CommitIndex), new Ready())); // the configuration in force, not just chosen
            return config.Contains(spareId) && !config.Contains(victimId) && commit >= 21;
        }, "spare holds the group's log and the new configuration is in force", TimeSpan.FromSeconds(60), () => DescribeAsync(cluster, groupId));

        // Lose a second original replica: the group still has a majority (the survivor and the spare).
        var second = cluster.Silos.Select(s => s.SiloAddress)
            .First(s => !s.Equals(first) && !s.Equals(spareSilo.SiloAddress) && !s.Equals(victim));
        await cluster.KillAndWaitDeadAsync(cluster.HandleOf(second));
        for (int i = 0; i < 5; i++) await grain.Deposit(1);
        Assert.Equal(26m, await grain.GetBalance());
    }
}

using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A member that leaves a group's move to another driver does not wait for it forever: when the group shows no
/// progress (<see cref="DeferralWatch"/>), it drives the move itself. The fault: the silo that should drive the moves
/// of idle groups (the heaviest live member of each group's configuration) drives none, its rebalancer paused (in
/// session 9's traced case, the activation the others waited for could not win a campaign), while another silo stops
/// gracefully. Real silos (TestingHost), real consensus.
/// </summary>
public sealed class StalledDriverTests
{
    private const int Replicas = 3;

    [Fact]
    public async Task A_member_drives_a_move_itself_when_the_driver_it_defers_to_makes_no_progress()
    {
        await using var cluster = await ScaleOutCluster.StartAsync(5, ReplicationMode.Volatile);
        var keys = Enumerable.Range(0, 100).Select(i => $"stalled-{i}").ToList();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (key, _) => await cluster.Client.GetGrain<IAccountGrain>(key).Deposit(1));
        await cluster.WaitBalancedAsync();

        // Idle groups: no activation, so nobody leads them and each move is driven by its designated member.
        await cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero, TestContext.Current.CancellationToken);
        var groups = keys.Select(k => ReplicationRuntime.GroupIdOf(GrainId.Create("account", k), Replicas)).ToList();
        await Poll.UntilAsync(async () => (await StatusesAsync(cluster, groups)).All(s => !s.Status.Leader && !s.Status.HasActivation),
            "no replica leads or hosts an activation", TimeSpan.FromSeconds(30));

        // The paused silo would drive the moves of the leaving silo's groups whose newest configuration it heads.
        var stalled = cluster.Silos[1];
        var leaving = cluster.Silos[3];
        long stalledId = cluster.ReplicaIdOf(stalled), leavingId = cluster.ReplicaIdOf(leaving);
        var roster = cluster.Service<ReplicaRoster>(cluster.Silos[0]);
        var waiting = new List<string>();
        foreach (string groupId in groups)
        {
            var latest = new ClusterConfig((await StatusesAsync(cluster, [groupId])).MaxBy(s => s.Status.LatestFromSlot).Status.Latest);
            var (grainId, _) = ReplicationRuntime.GrainOf(groupId);
            if (latest.Contains(leavingId) && roster.PreferenceOrder(grainId, latest).First() == stalledId) waiting.Add(groupId);
        }
        Assert.True(waiting.Count > 0, "no group's move would be left to the paused silo; the test shows nothing");

        cluster.Service<Rebalancer>(stalled).Paused = true;
        var decommission = cluster.Service<Decommission>(leaving);
        await cluster.StopGracefullyAsync(leaving);

        var report = decommission.LastReport;
        Assert.True(report is { Outcome: DecommissionOutcome.HandedOver, GroupsLeft: 0 },
            $"the graceful stop did not hand everything over: {report}; {waiting.Count} groups were left to the paused silo, such as {waiting[0]}: "
            + string.Join("; ", (await StatusesAsync(cluster, [waiting[0]])).Select(s => $"{s.Silo}: latest {{{string.Join(",", s.Status.Latest)}}} commit {s.Status.CommitIndex}")));
        await Poll.UntilAsync(async () => await AllInPlaceAsync(cluster, roster, waiting), "every group the paused silo would drive on its replica set", TimeSpan.FromSeconds(30));
        long takeOvers = cluster.Silos.Where(s => s != stalled).Sum(s => cluster.Service<Rebalancer>(s).Progress.TakeOvers);
        Assert.True(takeOvers >= 1, $"{waiting.Count} groups were left to the paused silo, yet no member took a move over");
        cluster.Service<Rebalancer>(stalled).Paused = false;
    }

    /// <summary>Each live silo's status of each group it holds.</summary>
    private static async Task<List<(long Silo, GroupStatus Status)>> StatusesAsync(ScaleOutCluster cluster, IEnumerable<string> groups)
    {
        var found = new List<(long, GroupStatus)>();
        foreach (string groupId in groups)
        {
            foreach (var silo in cluster.Silos)
            {
                if (await cluster.Service<ReplicationRuntime>(silo).StatusOfAsync(groupId) is { } status) found.Add((cluster.ReplicaIdOf(silo), status));
            }
        }
        return found;
    }

    /// <summary>Whether every member of each group's replica set knows that set as its newest configuration.</summary>
    private static async Task<bool> AllInPlaceAsync(ScaleOutCluster cluster, ReplicaRoster roster, IEnumerable<string> groups)
    {
        foreach (string groupId in groups)
        {
            var (grainId, replicas) = ReplicationRuntime.GrainOf(groupId);
            var target = roster.TargetConfigFor(grainId, replicas)!;
            foreach (var silo in cluster.Silos.Where(s => target.Contains(cluster.ReplicaIdOf(s))))
            {
                // In force too would need each follower to have heard the commits after the last change; a driver
                // without an activation resigns once the change is in force on its own replica.
                if (await cluster.Service<ReplicationRuntime>(silo).StatusOfAsync(groupId) is not { } status || !new ClusterConfig(status.Latest).Equals(target)) return false;
            }
        }
        return true;
    }
}

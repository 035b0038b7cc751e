using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The groups a silo holds a replica of (what the rebalancer and the inbound admission check): after a restart with
/// its data directory they come from the WAL's own recovery scan, without reading the log again, and every group
/// found there is rebuilt from disk with its data.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class HeldGroupsTests
{
    [Fact]
    public async Task A_silo_restarted_after_power_loss_holds_every_group_its_wal_has_and_serves_them()
    {
        await using var cluster = await FaultCluster.StartAsync(3);
        var grains = Enumerable.Range(0, 6).Select(i => cluster.Client.GetGrain<IAccountGrain>($"held-{i}")).ToList();
        foreach (var grain in grains) await grain.Deposit(1);
        var victim = cluster.Silos.Last(); // not the first silo: the client's gateway and the membership host stay

        // A write needs two of the three replicas: wait until the victim's own log has each group's vote too (on a
        // loaded machine its replica can still be on its way when the calls return). A vote is an entry of slot 1 or
        // later: the record of the group's first configuration (slot 0) is written at its birth, before any, and a
        // replica restarted with that alone learns the write only when its idle group next sends (a stress run here
        // timed out waiting for such a one).
        var victimLog = cluster.Service<ReplicationRuntime>(victim).Log!;
        await Poll.UntilAsync(
            () => grains.All(g => victimLog.ReadAll(FaultCluster.GroupOf(g.GetGrainId())).Any(r => r.Kind == OpenReplica.Storage.WalRecordKind.Accept && r.Slot >= 1)),
            "the victim's log holds a vote of every group", TimeSpan.FromSeconds(30));
        await cluster.KillAsync(victim);
        var reborn = await cluster.RestartAsync(victim);
        var runtime = cluster.Service<ReplicationRuntime>(reborn);

        // With three silos and three replicas, every grain's group has a replica on the restarted silo.
        var held = runtime.HeldGroupIds();
        Assert.DoesNotContain(RosterGroup.GroupId, held); // the meta group is not a grain group to rebalance
        foreach (var grain in grains)
        {
            string groupId = FaultCluster.GroupOf(grain.GetGrainId());
            Assert.Contains(groupId, held);
            Assert.True(runtime.Holds(groupId));
            // Rebuilt from what the WAL holds once the silo knows the roster again.
            await Poll.UntilAsync(async () => runtime.LoadHeld(groupId) is { } group
                && await group.AskAsync(core => (core.CommitIndex >= 1 || core.Entries.Any(), new Ready())), $"{groupId} rebuilt with its log", TimeSpan.FromSeconds(30));
        }
        Assert.False(runtime.Holds("3|accountgrain/never-written"));

        foreach (var grain in grains) Assert.Equal(2m, await Eventually.CallAsync(() => grain.Deposit(1), "deposit after the restart"));
    }
}

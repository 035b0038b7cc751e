using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// <see cref="ReplicatedGrainsOptions.SnapshotOnDeactivationAfterCommands"/>: an activation that deactivates after
/// enough commands snapshots State at its last applied slot, on its silo and (shipped) on the followers, so the next
/// activation replays nothing; below the threshold, or with the option at 0, only the periodic snapshots exist.
/// </summary>
public sealed class DeactivationSnapshotTests
{
    [Theory]
    [InlineData(100, 64, true)]
    [InlineData(10, 64, false)]
    [InlineData(100, 0, false)]
    public async Task A_deactivating_grain_snapshots_its_last_applied_slot_on_every_replica_when_it_applied_enough(int calls, int threshold, bool snapshots)
    {
        var (cluster, _) = await ConsensusCluster.StartAsync(3, idleGroupEviction: TimeSpan.FromSeconds(1), snapshotOnDeactivationAfter: threshold);
        await using var _ = cluster;
        var grain = cluster.Client.GetGrain<ICounterGrain>($"deactivated-{calls}-{threshold}");
        for (int i = 1; i <= calls; i++) Assert.Equal(i, await grain.Add(1));
        string groupId = ReplicationRuntime.GroupIdOf(grain.GetGrainId(), 3);
        var runtimes = cluster.Silos.Select(s => cluster.Service<ReplicationRuntime>(s.SiloAddress)).ToList();
        var home = cluster.Service<ReplicationRuntime>(await grain.GetSilo());
        long lastSlot = (await home.ChosenEntriesAsync(groupId)).Max(e => e.Slot);
        // Fewer commands than SnapshotEveryCommands: no periodic snapshot (a new replica's slot-0 one at most).
        Assert.All(runtimes, r => Assert.True((r.Log!.LoadSnapshot(groupId)?.Slot ?? 0) == 0));

        await grain.Deactivate();
        await Poll.UntilAsync(() => runtimes.All(r => r.GroupOrNull(groupId) is null), "the idle group left every silo", TimeSpan.FromSeconds(30));
        long?[] snapshotSlots = [.. runtimes.Select(r => r.Log!.LoadSnapshot(groupId)?.Slot)];
        if (snapshots) Assert.All(snapshotSlots, slot => Assert.Equal(lastSlot, slot)); // leader's, and shipped to both followers
        else Assert.All(snapshotSlots, slot => Assert.True((slot ?? 0) == 0));

        // The next activation starts from it (or replays the log) and sees every call.
        Assert.Equal(calls + 1, await grain.Add(1));
        Assert.Equal(calls + 1, (await grain.Get()).Value);
        Assert.Equal(calls + 1, (await grain.Get()).Commands);
    }

    [Fact]
    public async Task A_new_grains_replicas_keep_their_first_configuration_in_the_log_and_are_rebuilt_from_it()
    {
        // Session 21: a snapshot file per replica of every new grain (two fsyncs each) was most of a first write's time.
        var (cluster, _) = await ConsensusCluster.StartAsync(3, idleGroupEviction: TimeSpan.FromSeconds(1));
        await using var _ = cluster;
        var grain = cluster.Client.GetGrain<ICounterGrain>("born-in-the-log");
        Assert.Equal(1, await grain.Add(1));
        string groupId = ReplicationRuntime.GroupIdOf(grain.GetGrainId(), 3);
        var runtimes = cluster.Silos.Select(s => cluster.Service<ReplicationRuntime>(s.SiloAddress)).ToList();
        await Poll.UntilAsync(() => runtimes.All(r => r.HeldGroupIds().Contains(groupId)), "every silo holds a replica", TimeSpan.FromSeconds(30));
        Assert.All(runtimes, r => Assert.Null(r.Log!.LoadSnapshot(groupId)));

        await grain.Deactivate();
        await Poll.UntilAsync(() => runtimes.All(r => r.GroupOrNull(groupId) is null), "the idle group left every silo", TimeSpan.FromSeconds(30));
        // Rebuilt from the WAL alone (the slot-0 record holds the first configuration), on the leader and the followers.
        Assert.Equal(2, await grain.Add(1));
        Assert.Equal(3, await grain.Add(1));
        Assert.Equal(3, (await grain.Get()).Value);
        Assert.All(runtimes, r => Assert.Null(r.Log!.LoadSnapshot(groupId)));
    }

    [Fact]
    public async Task A_grain_deactivated_twice_keeps_its_state_through_two_deactivation_snapshots()
    {
        var (cluster, _) = await ConsensusCluster.StartAsync(3, idleGroupEviction: TimeSpan.FromSeconds(1), snapshotOnDeactivationAfter: 8);
        await using var _ = cluster;
        var grain = cluster.Client.GetGrain<ICounterGrain>("deactivated-twice");
        string groupId = ReplicationRuntime.GroupIdOf(grain.GetGrainId(), 3);
        var runtimes = cluster.Silos.Select(s => cluster.Service<ReplicationRuntime>(s.SiloAddress)).ToList();
        long value = 0;
        for (int round = 1; round <= 2; round++)
        {
            for (int i = 0; i < 20; i++) value = await grain.Add(1);
            await Assert.ThrowsAsync<CounterRejectedException>(() => grain.AddThenFail(1, "rolled back")); // not in State
            await grain.Deactivate();
            await Poll.UntilAsync(() => runtimes.All(r => r.GroupOrNull(groupId) is null), "the idle group left every silo", TimeSpan.FromSeconds(30));
        }
        Assert.Equal(40, value);
        Assert.Equal(40, (await grain.Get()).Value);
        Assert.Equal(40, (await grain.Get()).Commands);
    }
}

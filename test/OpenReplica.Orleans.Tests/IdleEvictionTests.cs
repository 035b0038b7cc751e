using Microsoft.Extensions.Time.Testing;
using OpenReplica.Orleans.Replication;
using OpenReplica.Orleans.Testing;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// Idle groups leave memory: a grain with no activation and nothing in flight loses its group on every silo after
/// the idle period, and its next call rebuilds the group from the WAL (log and snapshot), leader and followers alike.
/// </summary>
public sealed class IdleEvictionTests
{
    [Theory]
    [InlineData(ReplicationMode.Persisted)]
    [InlineData(ReplicationMode.Volatile)]
    public async Task An_idle_grains_group_leaves_every_silo_and_is_rebuilt_with_its_state_on_the_next_call(ReplicationMode mode)
    {
        var (cluster, _) = await ConsensusCluster.StartAsync(3, mode, snapshotEvery: 4, idleGroupEviction: TimeSpan.FromSeconds(1));
        await using var _ = cluster;
        var grain = cluster.Client.GetGrain<ICounterGrain>($"evicted-{mode}");
        for (int i = 1; i <= 10; i++) Assert.Equal(i, await grain.Add(1));
        string groupId = ReplicationRuntime.GroupIdOf(grain.GetGrainId(), 3);
        var runtimes = cluster.Silos.Select(s => cluster.Service<ReplicationRuntime>(s.SiloAddress)).ToList();
        // Every silo got a replica. A follower creates its replica from the first message that names the group (after
        // the calls a majority acknowledged, maybe) and, holding no activation, may evict it a second after the last
        // write: on a loaded machine that second can pass before this line, so an eviction counts as having held it.
        await Poll.UntilAsync(
            () => runtimes.All(r => r.GroupOrNull(groupId) is not null || r.GroupsEvicted > 0),
            "every silo held a replica of the group", TimeSpan.FromSeconds(30));

        await grain.Deactivate();
        await Poll.UntilAsync(() => runtimes.All(r => r.GroupOrNull(groupId) is null), "the idle group left every silo", TimeSpan.FromSeconds(30));
        Assert.True(runtimes.Sum(r => r.GroupsEvicted) >= 3);
        // The status's and the gauge's count of groups held on disk only: this one, wherever it has a replica.
        Assert.All(runtimes, r => Assert.Equal(r.Holds(groupId) ? 1 : 0, r.EvictedGroupCount));
        // The WAL's index of the group left memory with it (Persisted; the volatile log is the storage itself).
        Assert.All(runtimes, r => Assert.False(r.Log is OpenReplica.Storage.WriteAheadLog wal && wal.IsResident(groupId)));

        // The next call rebuilds the group (log + snapshot) on the silos it reaches and sees every earlier call.
        Assert.Equal(11, await grain.Add(1));
        Assert.Equal(11, (await grain.Get()).Value);
        Assert.True(runtimes.Sum(r => r.GroupsRebuilt) >= 1);
        // Back in memory where the activation runs: no longer counted as held on disk only there.
        Assert.Equal(0, cluster.Service<ReplicationRuntime>(await grain.GetSilo()).EvictedGroupCount);
        // A majority rebuilt it (a follower may already have evicted it again: it holds no activation).
        Assert.True(runtimes.Count(r => r.GroupOrNull(groupId) is not null || r.GroupsRebuilt > 0) >= 2);
    }

    [Fact]
    public async Task A_grain_with_an_activation_keeps_its_group()
    {
        var (cluster, _) = await ConsensusCluster.StartAsync(3, idleGroupEviction: TimeSpan.FromSeconds(1));
        await using var _ = cluster;
        var grain = cluster.Client.GetGrain<ICounterGrain>("kept");
        Assert.Equal(1, await grain.Add(1));
        var home = await grain.GetSilo();
        string groupId = ReplicationRuntime.GroupIdOf(grain.GetGrainId(), 3);
        var runtime = cluster.Service<ReplicationRuntime>(home);

        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        Assert.NotNull(runtime.GroupOrNull(groupId));
        Assert.Equal(2, await grain.Add(1));
    }

    /// <summary>
    /// The idle period is measured on the engine's monotonic clock (<see cref="ReplicatedGrainsOptions.MonotonicClock"/>,
    /// the seam the chaos tool's clock skew runs leases through), not on any clock of its own: while that clock stands
    /// still no group leaves memory however long the silos run, and once it moves past the period they do.
    /// </summary>
    [Fact]
    public async Task Idle_periods_run_on_the_engine_clock_so_a_stopped_clock_keeps_every_group()
    {
        var clock = new FakeTimeProvider();
        var kit = await ReplicatedTestCluster.StartAsync(o =>
        {
            o.Silos = 3;
            o.ConfigureReplication = r =>
            {
                r.IdleGroupEvictionAfter = TimeSpan.FromSeconds(1);
                r.MonotonicClock = clock;
            };
            o.ConfigureSilo = FileLoggerProvider.AddTo;
        });
        await using var _ = kit;
        var cluster = kit.Cluster;
        var grain = cluster.Client.GetGrain<ICounterGrain>("engine-clock");
        for (int i = 1; i <= 3; i++) Assert.Equal(i, await grain.Add(1));
        string groupId = ReplicationRuntime.GroupIdOf(grain.GetGrainId(), 3);
        var runtimes = cluster.Silos.Select(s => cluster.Service<ReplicationRuntime>(s.SiloAddress)).ToList();
        // A majority holds a replica (the calls were chosen); the third may get its own later, from a later message.
        await Poll.UntilAsync(() => runtimes.Count(r => r.GroupOrNull(groupId) is not null) >= 2, "a majority holds a replica", TimeSpan.FromSeconds(30));
        await grain.Deactivate();
        var holders = runtimes.Where(r => r.GroupOrNull(groupId) is not null).ToList();

        // Three real seconds, three times the idle period, with the engine clock standing still: nothing leaves.
        await Task.Delay(TimeSpan.FromSeconds(3), TestContext.Current.CancellationToken);
        Assert.All(holders, r => Assert.NotNull(r.GroupOrNull(groupId)));
        Assert.Equal(0, runtimes.Sum(r => r.GroupsEvicted));

        // The clock runs again (ten times real time): the replicas flush their last commit after a quiet second and leave
        // memory a second after that, all on this clock.
        await Poll.UntilAsync(() =>
        {
            clock.Advance(TimeSpan.FromMilliseconds(200)); // every 20 ms of the poll
            return runtimes.All(r => r.GroupOrNull(groupId) is null);
        }, "the idle group left every silo once the engine clock moved", TimeSpan.FromSeconds(30));
        Assert.Equal(4, await grain.Add(1)); // rebuilt with its state
    }
}

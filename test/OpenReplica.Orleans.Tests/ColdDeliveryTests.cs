using System.Net;
using System.Reflection;
using Microsoft.Extensions.Logging.Abstractions;
using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using OpenReplica.Storage;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A message for a group whose replica is not in memory must not hold up the silo's other deliveries while the
/// replica is read back from the WAL: inbound batches are delivered on the replica host's single turn, and in a rolling
/// restart of thousands of groups each load there held every other batch, birth claim and status ask of the silo for
/// 1-3 s (session 29). Loads of different groups run side by side, and a group still sees its messages in order.
/// </summary>
public sealed class ColdDeliveryTests
{
    private static readonly SiloAddress Peer = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 42);
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    // Two threads, as a silo has: a load of one group must not keep another group's messages waiting.
    private static readonly GroupLoaders Loaders = new(2, e => Assert.Fail(e.ToString()));

    private static Heartbeat Heartbeat(long slot) => new(2, 1, new Ballot(1, 2), slot, 0);

    [Fact]
    public async Task A_message_for_a_group_being_loaded_does_not_wait_for_it_and_the_group_gets_its_messages_in_order()
    {
        using var loading = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var delivered = new List<(string Group, long Slot)>();
        var otherDelivered = new TaskCompletionSource();
        var cold = new ColdDeliveries((_, group, message) =>
        {
            if (group == "slow" && ((Heartbeat)message).CommitIndex == 1)
            {
                loading.Set();
                Assert.True(release.Wait(Bound)); // the replica is being read back from disk
            }
            lock (delivered) delivered.Add((group, ((Heartbeat)message).CommitIndex));
            if (group == "other") otherDelivered.TrySetResult();
        }, (_, e) => Assert.Fail(e.ToString()), Loaders.Schedule);

        cold.Enqueue(Peer, "slow", Heartbeat(1));
        Assert.True(loading.Wait(Bound, TestContext.Current.CancellationToken));
        // Later messages for the loading group wait behind the first; they neither block the caller nor overtake it.
        Assert.True(cold.TryJoin(Peer, "slow", Heartbeat(2)));
        Assert.True(cold.TryJoin(Peer, "slow", Heartbeat(3)));
        // Another group is neither joined to it nor held up by it.
        Assert.False(cold.TryJoin(Peer, "other", Heartbeat(7)));
        cold.Enqueue(Peer, "other", Heartbeat(7));
        await otherDelivered.Task.WaitAsync(Bound, TestContext.Current.CancellationToken);
        lock (delivered) Assert.Equal([("other", 7L)], delivered);

        release.Set();
        await WaitUntilAsync(() => cold.Count == 0);
        lock (delivered) Assert.Equal([("other", 7L), ("slow", 1L), ("slow", 2L), ("slow", 3L)], delivered);
        Assert.False(cold.TryJoin(Peer, "slow", Heartbeat(4))); // drained: the next message goes straight to the replica
    }

    [Fact]
    public async Task At_most_a_bounded_number_of_messages_wait_per_group_and_the_rest_are_counted_as_dropped()
    {
        using var loading = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        int delivered = 0;
        var cold = new ColdDeliveries((_, _, _) =>
        {
            loading.Set();
            Assert.True(release.Wait(Bound));
            Interlocked.Increment(ref delivered);
        }, (_, e) => Assert.Fail(e.ToString()), Loaders.Schedule);

        cold.Enqueue(Peer, "g", Heartbeat(0));
        Assert.True(loading.Wait(Bound, TestContext.Current.CancellationToken));
        for (int i = 1; i <= ColdDeliveries.MaxMessagesPerGroup + 10; i++) Assert.True(cold.TryJoin(Peer, "g", Heartbeat(i)));
        release.Set();
        await WaitUntilAsync(() => cold.Count == 0);
        // The first one was taken by the loader at once; of the rest, the bound's worth waited behind it.
        Assert.Equal(1 + ColdDeliveries.MaxMessagesPerGroup, Volatile.Read(ref delivered));
        Assert.Equal(10, cold.Dropped);
    }

    [Fact]
    public async Task A_delivery_that_fails_is_reported_and_the_messages_behind_it_still_arrive()
    {
        using var release = new ManualResetEventSlim();
        var delivered = new List<long>();
        var failures = new List<string>();
        var cold = new ColdDeliveries((_, _, message) =>
        {
            if (((Heartbeat)message).CommitIndex == 1)
            {
                Assert.True(release.Wait(Bound));
                throw new IOException("disk gone");
            }
            lock (delivered) delivered.Add(((Heartbeat)message).CommitIndex);
        }, (group, e) => { lock (failures) failures.Add($"{group}: {e.Message}"); }, Loaders.Schedule);

        cold.Enqueue(Peer, "g", Heartbeat(1));
        Assert.True(cold.TryJoin(Peer, "g", Heartbeat(2)));
        release.Set();
        await WaitUntilAsync(() => cold.Count == 0);
        lock (failures) Assert.Equal(["g: disk gone"], failures);
        lock (delivered) Assert.Equal([2L], delivered);
    }

    [Fact]
    public async Task Building_one_groups_replica_from_a_slow_disk_does_not_hold_up_building_anothers()
    {
        var log = BlockingLog.Create(new VolatileLog(), slowGroup: "3|cold/slow");
        var store = new GroupStore(log);
        var clock = new ManualClock();
        var engine = new ReplicationEngine(1, ReplicatedGrainsOptions.DefaultEngineMaxGroupsPerStep, store, new NoNetwork(), clock, NullLogger.Instance);
        var table = new GroupTable(store, engine, clock, 16, NullLogger.Instance);
        var blocking = (BlockingLog)(object)log;
        var options = () => new ReplicaOptions { ReplicaId = 1, InitialConfig = new ClusterConfig([1, 2, 3]) };
        // A group that shares no lock with the slow one (64 stripes: one of the first hundred ids does).
        string other = Enumerable.Range(0, 100).Select(i => $"3|cold/other-{i}")
            .First(id => table.StripeIndexOf(id) != table.StripeIndexOf("3|cold/slow"));

        var slow = Task.Run(() => table.GetOrCreate("3|cold/slow", options), TestContext.Current.CancellationToken);
        Assert.True(blocking.Reading.Wait(Bound, TestContext.Current.CancellationToken));
        var fast = await Task.Run(() => table.GetOrCreate(other, options), TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken);
        Assert.Equal(other, fast.GroupId);
        Assert.False(slow.IsCompleted);

        blocking.Release.Set();
        Assert.Equal("3|cold/slow", (await slow.WaitAsync(Bound, TestContext.Current.CancellationToken)).GroupId);
    }

    private static async Task WaitUntilAsync(Func<bool> condition)
    {
        var deadline = DateTime.UtcNow + Bound;
        while (!condition())
        {
            Assert.True(DateTime.UtcNow < deadline, "not reached in time");
            await Task.Delay(5, TestContext.Current.CancellationToken);
        }
    }

    private sealed class NoNetwork : IEngineNetwork
    {
        public void Send(IReadOnlyList<(GroupReplica Group, Message Message)> messages)
        {
        }
    }

    /// <summary>An <see cref="IReplicaLog"/> whose read of one group waits until the test releases it (a slow disk).</summary>
    public class BlockingLog : DispatchProxy
    {
        private IReplicaLog _inner = null!;
        private string _slowGroup = "";

        public ManualResetEventSlim Reading { get; } = new();

        public ManualResetEventSlim Release { get; } = new();

        public static IReplicaLog Create(IReplicaLog inner, string slowGroup)
        {
            var log = Create<IReplicaLog, BlockingLog>();
            var proxy = (BlockingLog)(object)log;
            proxy._inner = inner;
            proxy._slowGroup = slowGroup;
            return log;
        }

        protected override object? Invoke(MethodInfo? targetMethod, object?[]? args)
        {
            if (targetMethod!.Name == nameof(IReplicaLog.ReadAll) && args is [string group] && group == _slowGroup)
            {
                Reading.Set();
                Assert.True(Release.Wait(Bound));
            }
            try
            {
                return targetMethod.Invoke(_inner, args);
            }
            catch (TargetInvocationException e) when (e.InnerException is { } inner)
            {
                throw inner;
            }
        }
    }
}

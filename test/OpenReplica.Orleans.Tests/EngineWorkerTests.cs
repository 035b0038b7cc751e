using Microsoft.Extensions.Logging.Abstractions;
using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The engine's step on its own, with a disk whose fsync the test completes and a network that records what left:
/// votes leave only after their fsync, leaders' accepts leave while it runs, many groups share one append and one send.
/// </summary>
public class EngineWorkerTests
{
    private static readonly ClusterConfig Three = new([1, 2, 3]);

    [Fact]
    public async Task A_followers_vote_leaves_only_after_its_fsync()
    {
        var (worker, disk, net) = NewWorker();
        FollowerGivenSlot1(worker);
        var vote = await LeavesOnlyAfterItsFsyncAsync<Accepted>(worker, disk, net);
        Assert.Equal(1, vote.Message.To);
    }

    [Fact]
    public async Task A_leaders_accepts_leave_during_its_fsync_and_its_own_vote_counts_only_after_it()
    {
        var (worker, disk, net) = NewWorker();
        var listener = new RecordingListener();
        var leader = NewGroup(worker, "g", replicaId: 1, listener);
        leader.Post(core => core.Campaign());
        await StepThroughAsync(worker, disk);
        var prepare = Assert.Single(net.Sent, m => m.Message is Prepare { To: 2 });
        var ballot = ((Prepare)prepare.Message).Ballot;
        leader.Post(core => core.Step(new Promise(2, 1, ballot, 0, 0, [])));
        await StepThroughAsync(worker, disk);
        Assert.True(leader.IsLeader);
        net.Sent.Clear();

        Assert.Equal(ProposeResult.Queued, leader.Propose(new Command(Guid.NewGuid(), 1, 1, [1, 2, 3])));
        var step = worker.StepAsync();
        Assert.False(step.IsCompleted);
        // The accepts are out while the leader's own append is not durable; no vote of its own was counted.
        Assert.Equal(2, net.Sent.Count(m => m.Message is Accept));
        leader.Post(core => core.Step(new Accepted(2, 1, ballot, [1])));
        Assert.Empty(listener.Committed);

        disk.CompleteAll();
        await step;
        Assert.Empty(listener.Committed); // the follower's vote and the own vote are stepped next
        await StepThroughAsync(worker, disk);
        Assert.Equal([1L], listener.Committed);
    }

    [Fact]
    public async Task A_followers_promise_leaves_only_after_its_fsync()
    {
        var (worker, disk, net) = NewWorker();
        var follower = NewGroup(worker, "g", replicaId: 2);
        follower.Post(core => core.Step(new Prepare(1, 2, new Ballot(1, 1), 0)));
        var promise = await LeavesOnlyAfterItsFsyncAsync<Promise>(worker, disk, net);
        Assert.Equal(1, promise.Message.To);
    }

    [Fact]
    public async Task A_step_that_only_moves_the_commit_index_needs_no_fsync()
    {
        var (worker, disk, net) = NewWorker();
        var (follower, listener, ballot) = FollowerGivenSlot1(worker);
        await StepThroughAsync(worker, disk);
        Assert.Single(disk.Batches);
        int sent = net.Sent.Count;

        // The leader tells the commit index (a flush): the follower learns slot 1 is chosen, with nothing new to vote on.
        follower.Post(core => core.Step(new Heartbeat(1, 2, ballot, 1, 0)));
        var step = worker.StepAsync();
        Assert.True(step.IsCompleted);
        await step;
        Assert.Single(disk.Batches); // no append, no fsync
        Assert.Equal([1L], listener.Committed);
        Assert.Equal(sent, net.Sent.Count); // an unanswered commit flush
    }

    [Fact]
    public async Task A_group_that_only_learns_commits_is_handed_out_before_the_steps_fsync()
    {
        var (worker, disk, net) = NewWorker();
        var ballot = new Ballot(1, 1);
        var listener = new RecordingListener();
        var learner = NewGroup(worker, "learner", replicaId: 2, listener);
        learner.Post(core => core.Step(new Accept(1, 2, ballot, [new LogEntry(1, ballot, LogValue.Noop, false)], 0)));
        await StepThroughAsync(worker, disk);

        // In one step: the learner only learns slot 1 is chosen, another group accepts an entry (needs an fsync).
        learner.Post(core => core.Step(new Heartbeat(1, 2, ballot, 1, 0)));
        var voter = NewGroup(worker, "voter", replicaId: 2);
        voter.Post(core => core.Step(new Accept(1, 2, ballot, [new LogEntry(1, ballot, LogValue.Noop, false)], 0)));
        var step = worker.StepAsync();
        Assert.False(step.IsCompleted);
        Assert.Equal(2, disk.Batches.Count);
        Assert.Equal([1L], listener.Committed); // handed out while the other group's append is not durable
        Assert.DoesNotContain(net.Sent, m => m.Message is Accepted && m.GroupId == "voter");

        disk.CompleteAll();
        await step;
        Assert.Single(net.Sent, m => m.Message is Accepted && m.GroupId == "voter");
    }

    [Fact]
    public async Task A_group_posted_to_while_its_step_gathers_waits_for_the_next_step_and_hands_out_in_slot_order()
    {
        var (worker, disk, net) = NewWorker();
        var (follower, listener) = await FlushLandingMidStepAsync(worker, disk);
        var step = worker.StepAsync();
        Assert.False(step.IsCompleted);
        Assert.Single(disk.Batches[^1]); // the group once in the step
        Assert.Empty(listener.Committed); // slot 2 does not overtake slot 1, whose step is not durable yet
        disk.CompleteAll();
        await step;
        Assert.Equal([1L], listener.Committed);
        Assert.Single(net.Sent, m => m.Message is Accepted { Slots: [3] });

        await StepThroughAsync(worker, disk); // the flush waited for the step's end, and is stepped now
        Assert.Equal([1L, 2L], listener.Committed);
        Assert.Null(listener.Failure);
    }

    [Fact]
    public async Task A_slot_handed_out_out_of_order_stops_the_group()
    {
        // The planted bug schedules a group again while its step gathers (as before session 9): the commit flush then
        // runs in the same step, needs no fsync, and reaches the engine's hand-out before slot 1.
        var (worker, disk, _) = NewWorker();
        worker.PlantedBugs = EngineBug.TwiceInOneStep;
        var (follower, listener) = await FlushLandingMidStepAsync(worker, disk);
        await StepThroughAsync(worker, disk);
        Assert.True(follower.Failed);
        Assert.IsType<InvariantViolationException>(listener.Failure);
        Assert.DoesNotContain(2L, listener.Committed);
    }

    [Fact]
    public async Task Many_groups_in_one_step_share_one_append_and_one_send()
    {
        var (worker, disk, net) = NewWorker();
        var ballot = new Ballot(1, 1);
        for (int i = 0; i < 50; i++)
        {
            var group = NewGroup(worker, $"g{i}", replicaId: 2);
            group.Post(core => core.Step(new Accept(1, 2, ballot, [new LogEntry(1, ballot, LogValue.Noop, false)], 0)));
        }

        await StepThroughAsync(worker, disk);
        Assert.Single(disk.Batches);
        Assert.Equal(50, disk.Batches[0].Count);
        Assert.Equal(1, net.Calls);
        Assert.Equal(50, net.Sent.Count(m => m.Message is Accepted));
        Assert.Equal(1, worker.Steps);
    }

    [Fact]
    public async Task A_failed_fsync_stops_the_steps_groups_and_sends_no_vote()
    {
        var (worker, disk, net) = NewWorker();
        var (follower, listener, ballot) = FollowerGivenSlot1(worker);

        var step = worker.StepAsync();
        disk.FailAll(new IOException("disk gone"));
        await step;
        Assert.True(follower.Failed);
        Assert.NotNull(listener.Failure);
        Assert.DoesNotContain(net.Sent, m => m.Message is Accepted);
        Assert.False(follower.Post(core => core.Tick()));
    }

    [Fact]
    public void Proposals_beyond_the_capacity_are_refused_as_full()
    {
        var (worker, _, _) = NewWorker();
        var group = NewGroup(worker, "g", replicaId: 1, proposalCapacity: 2);
        Assert.Equal(ProposeResult.Queued, group.Propose(new Command(Guid.NewGuid(), 1, 1, [1])));
        Assert.Equal(ProposeResult.Queued, group.Propose(new Command(Guid.NewGuid(), 1, 1, [1])));
        Assert.Equal(ProposeResult.Full, group.Propose(new Command(Guid.NewGuid(), 1, 1, [1])));
    }

    private static LogEntry Noop(long slot, Ballot ballot) => new(slot, ballot, LogValue.Noop, false);

    /// <summary>Takes a step whose one append the test holds: no <typeparamref name="T"/> leaves before it is durable, one after.</summary>
    private static async Task<(string GroupId, Message Message)> LeavesOnlyAfterItsFsyncAsync<T>(EngineWorker worker, GatedDisk disk, RecordingNetwork net)
        where T : Message
    {
        var step = worker.StepAsync();
        Assert.False(step.IsCompleted);
        Assert.Single(disk.Batches);
        Assert.DoesNotContain(net.Sent, m => m.Message is T);
        disk.CompleteAll();
        await step;
        return Assert.Single(net.Sent, m => m.Message is T);
    }

    /// <summary>A follower (replica 2) with a listener, given an accept of slot 1 under ballot 1.1 (not stepped yet).</summary>
    private static (GroupReplica Follower, RecordingListener Listener, Ballot Ballot) FollowerGivenSlot1(EngineWorker worker)
    {
        var listener = new RecordingListener();
        var follower = NewGroup(worker, "g", replicaId: 2, listener);
        var ballot = new Ballot(1, 1);
        follower.Post(core => core.Step(new Accept(1, 2, ballot, [Noop(1, ballot)], 0)));
        return (follower, listener, ballot);
    }

    /// <summary>
    /// A follower holding slots 1–2 is given an accept for slot 3 that also says slot 1 is chosen (an append to wait
    /// for); while the worker still gathers the next step, another thread delivers the commit flush for slot 2
    /// (nothing to persist). The caller takes that step.
    /// </summary>
    private static async Task<(GroupReplica Follower, RecordingListener Listener)> FlushLandingMidStepAsync(EngineWorker worker, GatedDisk disk)
    {
        var listener = new RecordingListener();
        var follower = NewGroup(worker, "g", replicaId: 2, listener);
        var ballot = new Ballot(1, 1);
        follower.Post(core => core.Step(new Accept(1, 2, ballot, [Noop(1, ballot), Noop(2, ballot)], 0)));
        await StepThroughAsync(worker, disk);

        follower.Post(core => core.Step(new Accept(1, 2, ballot, [Noop(3, ballot)], 1)));
        bool posted = false;
        worker.WhileGathering = () =>
        {
            if (posted) return;
            posted = true;
            follower.Post(core => core.Step(new Heartbeat(1, 2, ballot, 2, 0)));
        };
        return (follower, listener);
    }

    [Fact]
    public async Task A_second_activation_attaching_to_a_replica_displaces_the_first_which_then_gets_nothing_more()
    {
        var (worker, disk, _) = NewWorker();
        var (follower, first, ballot) = FollowerGivenSlot1(worker);
        await StepThroughAsync(worker, disk);
        Assert.Null(first.Failure);

        // Orleans keeps one activation of a grain per silo, but an older one whose Stop has not reached the worker yet
        // (or a model of the cluster that allows two) must not keep serving: it would miss what the newer one applies.
        var second = new RecordingListener();
        var attach = follower.AskAsync(_ => Attach(follower, second, (true, new Ready())));
        await StepThroughAsync(worker, disk);
        await attach;
        var displaced = Assert.IsType<ReplicaUnavailableException>(first.Failure);
        Assert.Contains("another activation", displaced.Message);
        Assert.Null(second.Failure);

        follower.Post(core => core.Step(new Heartbeat(1, 2, ballot, 1, 0)));
        await StepThroughAsync(worker, disk);
        Assert.Empty(first.Committed);
        Assert.Equal([1L], second.Committed);

        // Attaching the same listener again, or detaching, displaces nobody.
        await Task.WhenAll(follower.AskAsync(_ => Attach(follower, second, (true, new Ready()))), StepThroughAsync(worker, disk));
        await Task.WhenAll(follower.AskAsync(_ => Attach(follower, null, (true, new Ready()))), StepThroughAsync(worker, disk));
        Assert.Null(second.Failure);
    }

    private static (bool, Ready) Attach(GroupReplica group, IGroupListener? listener, (bool, Ready) result)
    {
        group.SetListener(listener);
        return result;
    }

    private static async Task StepThroughAsync(EngineWorker worker, GatedDisk disk)
    {
        var step = worker.StepAsync();
        disk.CompleteAll();
        await step;
    }

    private static (EngineWorker Worker, GatedDisk Disk, RecordingNetwork Net) NewWorker()
    {
        var disk = new GatedDisk();
        var net = new RecordingNetwork();
        return (new EngineWorker(0, disk, net, new ManualClock(), 1024, NullLogger.Instance), disk, net);
    }

    private static GroupReplica NewGroup(EngineWorker worker, string id, long replicaId, IGroupListener? listener = null, int proposalCapacity = 100)
    {
        var core = new PaxosReplica(new ReplicaOptions { ReplicaId = replicaId, InitialConfig = Three, ElectionTimeoutTicks = 0, ParallelPersist = true });
        return new GroupReplica(id, core, worker, proposalCapacity, NullLogger.Instance, listener);
    }

    private sealed class GatedDisk : IEngineStorage
    {
        private readonly List<TaskCompletionSource> _pending = [];

        public List<IReadOnlyList<(GroupReplica Group, Ready Ready)>> Batches { get; } = [];

        public ValueTask PersistAsync(IReadOnlyList<(GroupReplica Group, Ready Ready)> batch)
        {
            Batches.Add(batch.ToList());
            var done = new TaskCompletionSource();
            _pending.Add(done);
            return new ValueTask(done.Task);
        }

        public void CompleteAll()
        {
            foreach (var p in _pending) p.TrySetResult();
            _pending.Clear();
        }

        public void FailAll(Exception e)
        {
            foreach (var p in _pending) p.TrySetException(e);
            _pending.Clear();
        }
    }

    private sealed class RecordingListener : IGroupListener
    {
        public List<long> Committed { get; } = [];

        public Exception? Failure { get; private set; }

        public void OnReady(Ready ready) => Committed.AddRange(ready.Committed.Select(e => e.Slot));

        public void OnFailed(Exception exception) => Failure = exception;
    }
}

using Microsoft.Extensions.Logging.Abstractions;
using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using OpenReplica.Storage;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// What an idle group's replicas know of its commits: an idle leader tells its followers what it chose once it has sent
/// them nothing for <see cref="GroupTable.CommitFlushQuietTicks"/> ticks (the silo's commit flush), and inputs that send
/// nothing (a rebalancer's status asks) do not put that off; a follower that learned commits so keeps them when it
/// leaves memory. One silo's real table, engine and store; the other replicas are the test.
/// </summary>
public sealed class IdleCommitTests
{
    private const string GroupId = "3|flushgrain/g";
    private const long TickInterval = 20;

    // Ticks within which an idle leader must have flushed: its quiet period, plus two sweeps of slack.
    private const int FlushWithinTicks = GroupTable.CommitFlushQuietTicks + 2 * GroupTable.CommitFlushTicks;

    [Fact]
    public async Task A_leader_asked_for_its_status_every_tick_still_tells_its_followers_what_it_chose()
    {
        var silo = new OneSilo();
        var leader = await silo.LeaderWithAnUnsentCommitAsync();
        Assert.True(leader.HasUnsentCommit);

        // Each tick, the group is asked for its status (what a rebalance pass and the peers' passes do, every 200 ms
        // in the tests, and more often when several silos ask): session 11's DecommissionTests failure.
        int flushedAt = -1;
        for (int tick = 1; tick <= FlushWithinTicks && flushedAt < 0; tick++)
        {
            silo.Clock.Now += TickInterval;
            var status = ReplicationRuntime.StatusOfAsync(leader);
            await silo.StepAsync();
            Assert.True(status.IsCompleted);
            silo.Table.OnTick(tick, evictAfter: 0, TickInterval);
            await silo.StepAsync();
            if (silo.Net.Sent.Any(m => m.Message is Heartbeat { To: 2, CommitIndex: >= 1 })) flushedAt = tick;
        }
        Assert.True(flushedAt > 0, $"the leader did not tell replica 2 that slot 1 is chosen within {FlushWithinTicks} ticks");
        // Not before a second of quiet: a spread load writes each grain every few hundred ms, and must not pay a flush
        // (a heartbeat to every follower) per write (docs/benchmarks.md, session 13).
        Assert.True(flushedAt * TickInterval >= 1_000, $"the leader flushed after {flushedAt * TickInterval} ms of quiet, before 1 s");
        Assert.Contains(silo.Net.Sent, m => m.Message is Heartbeat { To: 3, CommitIndex: >= 1 });
        Assert.False(leader.HasUnsentCommit);
    }

    [Fact]
    public async Task A_group_leaves_the_ticks_once_flushed_and_a_step_with_new_work_brings_it_back()
    {
        // The tick visits only the groups a step left needing ticks or a flush, not every group in memory (session 21).
        var silo = new OneSilo();
        var leader = await silo.LeaderWithAnUnsentCommitAsync();
        Assert.Equal(1, silo.Table.TickingGroups);
        for (int tick = 1; tick <= FlushWithinTicks && leader.HasUnsentCommit; tick++)
        {
            silo.Clock.Now += TickInterval;
            silo.Table.OnTick(tick, evictAfter: 0, TickInterval);
            await silo.StepAsync();
        }
        Assert.False(leader.HasUnsentCommit);
        silo.Table.OnTick(FlushWithinTicks + 1, evictAfter: 0, TickInterval); // finds nothing to do: the group leaves
        Assert.Equal(0, silo.Table.TickingGroups);
        Assert.Equal(1, silo.Table.Count); // still in memory

        // A proposal puts an accept in flight: the step that sent it brings the group back, and its retransmission comes.
        Assert.Equal(ProposeResult.Queued, leader.Propose(new Command(Guid.NewGuid(), 1, 1, [7])));
        await silo.StepAsync();
        Assert.True(leader.NeedsTicks);
        Assert.Equal(1, silo.Table.TickingGroups);
        int acceptsBefore = silo.Net.Sent.Count(m => m.Message is Accept { To: 2 });
        for (int tick = 1; tick <= 10; tick++)
        {
            silo.Clock.Now += TickInterval;
            silo.Table.OnTick(FlushWithinTicks + 1 + tick, evictAfter: 0, TickInterval);
            await silo.StepAsync();
        }
        Assert.True(silo.Net.Sent.Count(m => m.Message is Accept { To: 2 }) > acceptsBefore, "the unanswered accept was not retransmitted");
    }

    [Fact]
    public async Task A_leader_that_keeps_proposing_is_not_flushed_its_accepts_carry_the_commit()
    {
        var silo = new OneSilo();
        var leader = await silo.LeaderWithAnUnsentCommitAsync();
        for (int tick = 1; tick <= FlushWithinTicks; tick++)
        {
            silo.Clock.Now += TickInterval;
            Assert.Equal(ProposeResult.Queued, leader.Propose(new Command(Guid.NewGuid(), 1, 1, [(byte)tick])));
            await silo.StepAsync();
            await silo.AcceptedByReplica2Async(leader); // chosen: nothing in flight, so the group gets no ticks, only the flush
            silo.Table.OnTick(tick, evictAfter: 0, TickInterval);
            await silo.StepAsync();
        }
        Assert.DoesNotContain(silo.Net.Sent, m => m.Message is Heartbeat);
        Assert.Contains(silo.Net.Sent, m => m.Message is Accept { To: 2, CommitIndex: >= 1 });
    }

    [Fact]
    public async Task A_follower_that_learned_commits_from_a_flush_keeps_them_when_it_leaves_memory()
    {
        const long evictAfter = 2_000;
        var silo = new OneSilo();
        var follower = silo.Table.GetOrCreate(GroupId, () => ReplicationRuntime.GrainGroupOptions(2, new ClusterConfig([1, 2, 3]), new ReplicatedGrainsOptions(), long.MinValue));
        var ballot = new Ballot(1, 1);
        follower.Post(core => core.Step(new Accept(1, 2, ballot, [new LogEntry(1, ballot, LogValue.Noop, false), new LogEntry(2, ballot, LogValue.Noop, false)], 0)));
        await silo.StepAsync();
        await silo.StepAsync();
        // The leader's commit flush: the follower chooses both slots in a step that appends nothing.
        follower.Post(core => core.Step(new Heartbeat(1, 2, ballot, 2, 0)));
        await silo.StepAsync();
        Assert.True(follower.CommitNotDurable);

        // Idle for the eviction period, then for another one: the first sweep has the commit index written, the
        // second evicts; the replica rebuilt from disk knows both slots chosen.
        for (int sweep = 0; sweep < 2 && silo.Table.Peek(GroupId) is not null; sweep++)
        {
            silo.Clock.Now += evictAfter + 1;
            silo.Table.EvictIdle(silo.Clock.Now - evictAfter);
            await silo.StepAsync();
            await silo.StepAsync();
        }
        Assert.Null(silo.Table.Peek(GroupId));
        Assert.Equal(1, silo.Table.Evicted);
        var rebuilt = silo.Table.GetOrCreate(GroupId, () => ReplicationRuntime.GrainGroupOptions(2, new ClusterConfig([1, 2, 3]), new ReplicatedGrainsOptions(), long.MinValue));
        Assert.Equal(1, silo.Table.Rebuilt);
        var commit = rebuilt.AskAsync(core => (core.CommitIndex, new Ready()));
        await silo.StepAsync();
        Assert.Equal(2, await commit);
    }

    /// <summary>Replica 1 of group {1,2,3} on a silo of its own; replica 2's messages are written by the test.</summary>
    private sealed class OneSilo
    {
        public OneSilo()
        {
            var store = new GroupStore(new VolatileLog());
            var engine = new ReplicationEngine(1, ReplicatedGrainsOptions.DefaultEngineMaxGroupsPerStep, store, Net, Clock, NullLogger.Instance);
            Table = new GroupTable(store, engine, Clock, 100, NullLogger.Instance);
        }

        public ManualClock Clock { get; } = new();

        public RecordingNetwork Net { get; } = new();

        public GroupTable Table { get; }

        public async Task StepAsync()
        {
            foreach (var worker in Table.Engine.Workers) await worker.StepAsync();
        }

        /// <summary>Replica 1 leads (replica 2 promised) and chose slot 1 (replica 2 accepted it); its followers have not been told.</summary>
        public async Task<GroupReplica> LeaderWithAnUnsentCommitAsync()
        {
            var leader = Table.GetOrCreate(GroupId, () => ReplicationRuntime.GrainGroupOptions(1, new ClusterConfig([1, 2, 3]), new ReplicatedGrainsOptions(), long.MinValue));
            leader.Post(core => core.Campaign());
            await StepAsync();
            var ballot = ((Prepare)Net.Sent.Single(m => m.Message is Prepare { To: 2 }).Message).Ballot;
            leader.Post(core => core.Step(new Promise(2, 1, ballot, 0, 0, [])));
            await StepAsync();
            await StepAsync();
            Assert.True(leader.IsLeader);
            Assert.Equal(ProposeResult.Queued, leader.Propose(new Command(Guid.NewGuid(), 1, 1, [1])));
            await StepAsync();
            long slot = ((Accept)Net.Sent.Last(m => m.Message is Accept { To: 2 }).Message).Entries[^1].Slot;
            await AcceptedByReplica2Async(leader);
            var chosen = leader.AskAsync(core => (core.CommitIndex >= slot, new Ready()));
            await StepAsync();
            Assert.True(await chosen);
            Net.Sent.Clear();
            return leader;
        }

        /// <summary>Replica 2 accepts the slots of the last accept the leader sent it; the leader steps its vote and chooses them.</summary>
        public async Task AcceptedByReplica2Async(GroupReplica leader)
        {
            var accept = (Accept)Net.Sent.Last(m => m.Message is Accept { To: 2 }).Message;
            leader.Post(core => core.Step(new Accepted(2, 1, accept.Ballot, [.. accept.Entries.Select(e => e.Slot)])));
            await StepAsync();
            await StepAsync();
        }
    }
}

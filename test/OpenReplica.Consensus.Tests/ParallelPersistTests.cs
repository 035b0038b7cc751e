using System.Text;
using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

/// <summary>
/// <see cref="ReplicaOptions.ParallelPersist"/>: the host may send a leader's accepts before its own append is
/// durable, so the leader's own acceptance counts only when the host delivers it back after the append.
/// </summary>
public class ParallelPersistTests
{
    [Fact]
    public void The_leaders_own_acceptance_is_a_message_to_itself_in_the_same_ready_as_the_entries_to_persist()
    {
        var c = new Cluster(3, o => o.ParallelPersist = true);
        c.Elect(1);
        var ready = c.Propose(1, "a");

        var own = Assert.Single(ready.Messages.OfType<Accepted>());
        Assert.Equal((1L, 1L), (own.From, own.To));
        Assert.Equal([1L], own.Slots);
        Assert.Contains(ready.Entries, e => e.Slot == 1 && !e.Chosen);
        Assert.Equal(2, ready.Messages.OfType<Accept>().Count());
    }

    [Fact]
    public void A_follower_vote_alone_does_not_choose_a_slot_until_the_leaders_own_vote_comes_back()
    {
        var c = new Cluster(3, o => o.ParallelPersist = true);
        c.Elect(1);
        c.Propose(1, "a");

        Assert.True(c.DeliverOne(m => m is Accept { To: 2 }));
        Assert.True(c.DeliverOne(m => m is Accepted { From: 2 }));
        Assert.Equal(0, c[1].CommitIndex); // one durable vote of three: not a majority

        Assert.True(c.DeliverOne(m => m is Accepted { From: 1, To: 1 }));
        Assert.Equal(1, c[1].CommitIndex);
        c.DeliverAll();
        Assert.Equal(["a"], c.StateOf(1));
    }

    [Fact]
    public void Without_parallel_persist_the_leader_counts_its_own_acceptance_at_once()
    {
        var c = new Cluster(3);
        c.Elect(1);
        var ready = c.Propose(1, "a");
        Assert.DoesNotContain(ready.Messages, m => m.To == 1);

        Assert.True(c.DeliverOne(m => m is Accept { To: 2 }));
        Assert.True(c.DeliverOne(m => m is Accepted { From: 2 }));
        Assert.Equal(1, c[1].CommitIndex);
    }

    [Fact]
    public void A_lost_self_vote_leaves_the_slot_to_the_followers_majority()
    {
        var c = new Cluster(3, o => o.ParallelPersist = true);
        c.Elect(1);
        c.Propose(1, "a");
        c.Queue.RemoveAll(m => m.To == 1 && m.From == 1);
        c.DeliverAll();
        Assert.Equal(1, c[1].CommitIndex);
        Assert.Equal(["a"], c.StateOf(1));
    }
}

/// <summary>Compaction at a slot behind the commit index (the activation applies behind the engine).</summary>
public class CompactionBehindCommitTests
{
    [Fact]
    public void A_snapshot_at_an_earlier_slot_holds_that_slots_sessions_and_keeps_later_entries()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Propose(1, "a");
        c.DeliverAll();
        c.Propose(1, "b");
        c.DeliverAll();
        c.Propose(1, "c");
        c.DeliverAll();
        Assert.Equal(3, c[1].CommitIndex);

        // The state machine has applied only slot 2 when it hands its bytes over.
        var ready = c.Handle(1, c[1].CompactLog(2, Encoding.UTF8.GetBytes("a\nb")));

        var snapshot = Assert.IsType<Snapshot>(ready.SnapshotToPersist);
        Assert.Equal(2, snapshot.Slot);
        Assert.Equal(2, c[1].SnapshotSlot);
        Assert.Equal([3L], c[1].Entries.Select(e => e.Slot));
        // Sessions of slot 2: the third command (sequence 3) is not applied in the snapshot, the second is.
        Assert.True(snapshot.Sessions.IsApplied(new CommandId(Cluster.ClientA, 2)));
        Assert.False(snapshot.Sessions.IsApplied(new CommandId(Cluster.ClientA, 3)));
        // The live table still knows slot 3.
        Assert.True(c[1].Sessions.IsApplied(new CommandId(Cluster.ClientA, 3)));
    }

    [Fact]
    public void A_replica_restarted_from_a_snapshot_behind_the_commit_replays_the_rest()
    {
        var c = new Cluster(3);
        c.Elect(1);
        foreach (var p in new[] { "a", "b", "c" })
        {
            c.Propose(1, p);
            c.DeliverAll();
        }
        c.Handle(1, c[1].CompactLog(1, Encoding.UTF8.GetBytes("a")));
        var restarted = PaxosReplica.Restart(c.Node(1).Options, c.Node(1).Disk.Load());
        var replay = restarted.Start();
        Assert.Equal([2L, 3L], replay.Committed.Select(e => e.Slot));
    }

    [Fact]
    public void A_late_report_at_or_below_the_snapshot_is_ignored()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Propose(1, "a");
        c.DeliverAll();
        c.Propose(1, "b");
        c.DeliverAll();
        c.Handle(1, c[1].CompactLog(2, Encoding.UTF8.GetBytes("a\nb")));
        var late = c[1].CompactLog(1, Encoding.UTF8.GetBytes("a"));
        Assert.Null(late.SnapshotToPersist);
        Assert.Equal(2, c[1].SnapshotSlot);
    }
}

using System.Text;
using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

/// <summary>Compaction at a slot behind the commit index (the activation applies behind the engine).</summary>
public class CompactionBehindCommitTests
{
    /// <summary>A leader (replica 1) that chose one slot per payload, in order.</summary>
    private static Cluster ChosenOneByOne(params string[] payloads)
    {
        var c = new Cluster(3);
        c.Elect(1);
        foreach (var p in payloads)
        {
            c.Propose(1, p);
            c.DeliverAll();
        }
        Assert.Equal(payloads.Length, c[1].CommitIndex);
        return c;
    }

    [Fact]
    public void A_snapshot_at_an_earlier_slot_holds_that_slots_sessions_and_keeps_later_entries()
    {
        var c = ChosenOneByOne("a", "b", "c");

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
        var c = ChosenOneByOne("a", "b", "c");
        c.Handle(1, c[1].CompactLog(1, Encoding.UTF8.GetBytes("a")));
        var restarted = PaxosReplica.Restart(c.Node(1).Options, c.Node(1).Disk.Load());
        var replay = restarted.Start();
        Assert.Equal([2L, 3L], replay.Committed.Select(e => e.Slot));
    }

    [Fact]
    public void A_late_report_at_or_below_the_snapshot_is_ignored()
    {
        var c = ChosenOneByOne("a", "b");
        c.Handle(1, c[1].CompactLog(2, Encoding.UTF8.GetBytes("a\nb")));
        var late = c[1].CompactLog(1, Encoding.UTF8.GetBytes("a"));
        Assert.Null(late.SnapshotToPersist);
        Assert.Equal(2, c[1].SnapshotSlot);
    }
}

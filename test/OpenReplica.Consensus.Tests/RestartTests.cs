using System.Text;
using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

public class RestartTests
{
    [Fact]
    public void Restart_replays_committed_entries_through_start()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Propose(1, "a");
        c.Propose(1, "b");
        c.DeliverAll();
        c.Tick(1, 2);
        c.DeliverAll();
        Assert.Equal(["a", "b"], c.StateOf(2));

        c.Crash(2);
        Assert.Empty(c.StateOf(2));
        var start = c.Restart(2);
        Assert.Equal([1L, 2L], start.Committed.Select(e => e.Slot));
        Assert.Equal(["a", "b"], c.StateOf(2));
        Assert.Equal(2, c[2].AppliedIndex);
        Assert.Equal(new Ballot(1, 1), c[2].Promised);
    }

    [Fact]
    public void Restart_from_a_snapshot_replays_only_the_entries_after_it()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Propose(1, "a");
        c.DeliverAll();
        c.Compact(1);
        c.Propose(1, "b");
        c.DeliverAll();

        c.Crash(1);
        var start = c.Restart(1);
        Assert.Equal([2L], start.Committed.Select(e => e.Slot));
        Assert.Equal(["a", "b"], c.StateOf(1));
        Assert.Equal(1, c[1].SnapshotSlot);
        Assert.Equal(ReplicaRole.Follower, c[1].Role);
    }

    [Fact]
    public void An_accepted_but_unchosen_entry_survives_a_restart_as_accepted()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Propose(1, "maybe");
        c.DeliverQueued(m => m is Accept { To: 2 });
        c.Queue.Clear();
        c.Crash(2);
        c.Restart(2);
        var entry = Assert.Single(c[2].Entries);
        Assert.False(entry.Chosen);
        Assert.Equal(new Ballot(1, 1), entry.Ballot);
        Assert.Empty(c.StateOf(2));
    }

    /// <summary>
    /// r2 leads with ballot 2.2 through r3's promise while r1 still believes it leads with 1.1. r3 crashes and
    /// restarts before r1's accept for slot 1 reaches it. With its disk, r3 refuses; without it, both leaders choose.
    /// </summary>
    private static Cluster TwoLeaders(bool keepDisk, out Command x, out Command y)
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Drop(m => (m.From == 1 && m.To == 2) || (m.From == 2 && m.To == 1));
        c.Campaign(2);
        c.DeliverAll();
        Assert.True(c[2].IsLeader);
        Assert.True(c[1].IsLeader);
        Assert.Equal(new Ballot(2, 2), c[3].Promised);

        c.Crash(3);
        if (keepDisk) c.Restart(3);
        else c.RestartWithAmnesia(3);

        // Both leaders propose for slot 1; r1's accept reaches r3 first.
        x = c.NewCommand("x");
        c.Propose(1, x);
        y = c.NewCommand("y");
        c.Propose(2, y);
        c.DeliverQueued(m => m is Accept { From: 1, To: 3 });
        c.DeliverQueued(m => m.To == 1);
        c.DeliverQueued(m => m is Accept { From: 2, To: 3 });
        c.DeliverQueued(m => m.To == 2);
        return c;
    }

    private static string? Slot1(Cluster c, long id) =>
        c.Node(id).Committed.FirstOrDefault(e => e.Slot == 1) is { } e ? Encoding.UTF8.GetString(e.Commands.Single().Command.Payload) : null;

    [Fact]
    public void A_restarted_replica_with_its_disk_still_refuses_lower_ballots()
    {
        var c = TwoLeaders(keepDisk: true, out _, out _);
        Assert.Equal(new Ballot(2, 2), c[3].Promised);
        Assert.Contains(c.Delivered, m => m is Rejected { From: 3, To: 1 } r && r.Promised == new Ballot(2, 2));
        Assert.False(c[1].IsLeader);
        Assert.Null(Slot1(c, 1));
        Assert.Equal("y", Slot1(c, 2));
    }

    [Fact]
    public void A_replica_that_forgot_its_promise_lets_two_values_be_chosen()
    {
        // The counter-example that shows why HardState is persisted before the promise is sent.
        var c = TwoLeaders(keepDisk: false, out _, out _);
        Assert.Equal("x", Slot1(c, 1));
        Assert.Equal("y", Slot1(c, 2));
    }
}

using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

public class ReadIndexTests
{
    [Fact]
    public void A_read_is_served_only_after_a_quorum_acknowledges_the_leader()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Propose(1, "a");
        c.DeliverAll();

        var ready = c.ReadIndex(1, requestId: 7);
        Assert.Empty(ready.Reads);
        var heartbeats = ready.Messages.OfType<Heartbeat>().ToList();
        Assert.Equal(2, heartbeats.Count);
        Assert.All(heartbeats, h => Assert.Equal(1, h.ReadContext));

        c.DeliverQueued(m => m is Heartbeat { To: 2 });
        Assert.Empty(c.Node(1).Reads);
        c.DeliverQueued(m => m is HeartbeatAck { From: 2 });
        var read = Assert.Single(c.Node(1).Reads);
        Assert.Equal(new ReadState(7, 1), read);
    }

    [Fact]
    public void A_confirmed_read_waits_until_the_applied_index_reaches_the_read_index()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Propose(1, "a");
        c.DeliverAll();
        c.Propose(1, "b"); // slot 2 in flight: a read must see it if it is chosen
        c.ReadIndex(1, requestId: 8);

        c.DeliverQueued(m => m is Heartbeat);
        c.DeliverQueued(m => m is HeartbeatAck);
        Assert.Empty(c.Node(1).Reads);
        Assert.Equal(1, c[1].AppliedIndex);

        c.DeliverAll();
        Assert.Equal(new ReadState(8, 2), Assert.Single(c.Node(1).Reads));
        Assert.Equal(["a", "b"], c.StateOf(1));
    }

    [Fact]
    public void A_read_whose_heartbeats_were_lost_is_confirmed_by_the_next_heartbeat_round()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.ReadIndex(1, requestId: 3);
        c.DropQueued(m => m is Heartbeat);
        c.Tick(1, 2);
        c.DeliverAll();
        Assert.Equal(3, Assert.Single(c.Node(1).Reads).RequestId);
    }

    [Fact]
    public void A_read_on_a_follower_or_candidate_fails()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.ReadIndex(2, requestId: 5);
        Assert.Equal([5L], c.Node(2).FailedReads);

        c.Campaign(3);
        c.ReadIndex(3, requestId: 6);
        Assert.Equal([6L], c.Node(3).FailedReads);
        Assert.Empty(c.Node(2).Reads);
        Assert.Empty(c.Node(3).Reads);
    }

    [Fact]
    public void A_deposed_leader_cannot_confirm_a_read()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Drop(m => m.From == 1 || m.To == 1);
        c.Campaign(2);
        c.DeliverAll();
        c.Heal();
        Assert.True(c[2].IsLeader);

        // r1 still believes it leads; the acks it gets name a higher ballot, so it steps down instead.
        c.ReadIndex(1, requestId: 4);
        c.DeliverAll();
        Assert.Empty(c.Node(1).Reads);
        Assert.Equal([4L], c.Node(1).FailedReads);
        Assert.False(c[1].IsLeader);
    }
}

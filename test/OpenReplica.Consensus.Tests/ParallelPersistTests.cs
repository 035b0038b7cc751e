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

    [Fact]
    public void A_candidates_prepares_and_its_own_promise_come_in_one_ready_and_its_promise_counts_only_when_it_comes_back()
    {
        var c = new Cluster(3, o => o.ParallelPersist = true);
        var ready = c.Campaign(1);

        Assert.NotNull(ready.HardState); // the new ballot, to be made durable while the prepares travel
        Assert.Equal(2, ready.Messages.OfType<Prepare>().Count());
        var own = Assert.Single(ready.Messages.OfType<Promise>());
        Assert.Equal((1L, 1L), (own.From, own.To));

        Assert.True(c.DeliverOne(m => m is Prepare { To: 2 }));
        Assert.True(c.DeliverOne(m => m is Promise { From: 2 }));
        Assert.False(c[1].IsLeader); // one durable promise of three: not a majority

        Assert.True(c.DeliverOne(m => m is Promise { From: 1, To: 1 }));
        Assert.True(c[1].IsLeader);
        c.DeliverAll();
        c.Propose(1, "a");
        c.DeliverAll();
        Assert.Equal(["a"], c.StateOf(1));
    }

    [Fact]
    public void A_lost_self_promise_leaves_phase_1_to_the_followers_majority_or_to_a_retransmission()
    {
        var c = new Cluster(3, o => o.ParallelPersist = true);
        c.Campaign(1);
        c.Queue.RemoveAll(m => m is Promise { From: 1, To: 1 });
        Assert.True(c.DeliverOne(m => m is Prepare { To: 2 }));
        Assert.True(c.DeliverOne(m => m is Promise { From: 2 }));
        c.Queue.RemoveAll(m => m is Prepare { To: 3 });
        Assert.False(c[1].IsLeader);

        // The retransmission sends the prepare to 3 and the promise to itself again; either completes a majority.
        c.Tick(1, ticks: 20);
        Assert.Contains(c.Queue, m => m is Promise { From: 1, To: 1 });
        c.DeliverAll();
        Assert.True(c[1].IsLeader);
    }

    [Fact]
    public void Without_parallel_persist_a_candidate_counts_its_own_promise_at_once()
    {
        var c = new Cluster(3);
        var ready = c.Campaign(1);
        Assert.DoesNotContain(ready.Messages, m => m.To == 1);
        Assert.True(c.DeliverOne(m => m is Prepare { To: 2 }));
        Assert.True(c.DeliverOne(m => m is Promise { From: 2 }));
        Assert.True(c[1].IsLeader);
    }
}

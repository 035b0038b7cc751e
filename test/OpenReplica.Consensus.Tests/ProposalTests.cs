using System.Text;
using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

public class ProposalTests
{
    [Fact]
    public void A_follower_rejects_proposals_with_not_leader_and_the_leader_hint()
    {
        var c = new Cluster(3);
        c.Propose(2, "before-any-leader");
        var first = Assert.Single(c.Node(2).Rejections);
        Assert.Equal(RejectionReason.NotLeader, first.Reason);
        Assert.Null(first.LeaderHint);

        c.Elect(1);
        c.Propose(2, "x");
        var second = c.Node(2).Rejections[^1];
        Assert.Equal(RejectionReason.NotLeader, second.Reason);
        Assert.Equal(1, second.LeaderHint);
        Assert.Equal("x", Encoding.UTF8.GetString(second.Command!.Payload));
        Assert.Equal("not leader, try replica 1", second.ToString());
    }

    [Fact]
    public void Pipelining_keeps_window_slots_in_flight_and_the_next_waits()
    {
        var c = new Cluster(3, o => { o.Window = 2; o.MaxBatchCommands = 1; });
        c.Elect(1);
        var ready = c.Propose(1, "a", "b", "c");
        var accept = ready.Messages.OfType<Accept>().Single(a => a.To == 2);
        Assert.Equal([1L, 2L], accept.Entries.Select(e => e.Slot));
        Assert.Equal(1, c[1].PendingProposals);

        // The acks for slots 1 and 2 open the window: slot 3 is proposed.
        c.DeliverQueued(m => m is Accept { To: 2 });
        var next = c.DeliverOne(m => m is Accepted { From: 2 });
        Assert.True(next);
        Assert.Equal(2, c[1].CommitIndex);
        Assert.Equal(0, c[1].PendingProposals);
        Assert.Contains(c.Queue, m => m is Accept a && a.Entries.Any(e => e.Slot == 3));

        c.DeliverAll();
        Assert.Equal(["a", "b", "c"], c.StateOf(1));
    }

    [Fact]
    public void Queued_commands_are_batched_into_one_slot_up_to_max_batch_commands()
    {
        var c = new Cluster(3, o => { o.Window = 1; o.MaxBatchCommands = 3; });
        c.Elect(1);
        c.Propose(1, "a");
        c.Propose(1, "b", "c", "d", "e");
        Assert.Equal(4, c[1].PendingProposals);
        c.DeliverAll();

        var committed = c.Node(1).Committed;
        Assert.Equal([1, 3, 1], committed.Select(e => e.Commands.Count));
        Assert.Equal(["a", "b", "c", "d", "e"], c.StateOf(1));
        c.Tick(1, 2); // the heartbeat carries the last commit index to the followers
        c.DeliverAll();
        Assert.Equal(c.StateOf(1), c.StateOf(2));
    }

    [Fact]
    public void Batches_respect_max_batch_bytes_and_an_oversized_command_gets_its_own_slot()
    {
        var c = new Cluster(3, o => { o.Window = 1; o.MaxBatchBytes = 10; });
        c.Elect(1);
        c.Propose(1, "first");
        c.Propose(1, "aaaa", "bbbb", "cccc", new string('z', 20), "dddd");
        c.DeliverAll();

        var sizes = c.Node(1).Committed.Select(e => e.Commands.Select(x => x.Command.Payload.Length).ToArray()).ToList();
        Assert.Equal("5|4,4|4|20|4", string.Join("|", sizes.Select(s => string.Join(",", s))));
        Assert.All(sizes.Where(s => s.Length > 1), s => Assert.True(s.Sum() <= 10));
    }

    [Fact]
    public void A_full_proposal_queue_rejects_with_queue_full()
    {
        var c = new Cluster(3, o => { o.Window = 1; o.MaxPendingProposals = 2; });
        c.Elect(1);
        c.Propose(1, "in-flight");
        c.Propose(1, "q1", "q2", "overflow");
        var rejection = Assert.Single(c.Node(1).Rejections);
        Assert.Equal(RejectionReason.QueueFull, rejection.Reason);
        Assert.Equal("overflow", Encoding.UTF8.GetString(rejection.Command!.Payload));
        c.DeliverAll();
        Assert.Equal(["in-flight", "q1", "q2"], c.StateOf(1));
    }

    [Fact]
    public void Lost_accepts_are_retransmitted_after_retransmit_ticks()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Propose(1, "a");
        Assert.Equal(2, c.DropQueued(m => m is Accept));
        c.Tick(1, 3);
        Assert.DoesNotContain(c.Queue, m => m is Accept);
        c.Tick(1, 1);
        Assert.Equal(2, c.Queue.OfType<Accept>().Count());
        c.DeliverAll();
        Assert.Equal(["a"], c.StateOf(1));
    }
}

public class ResignTests
{
    [Fact]
    public void A_resigning_leader_tells_its_followers_the_commit_index_and_holds_no_leader_state()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Propose(1, "a");
        c.DeliverQueued(m => m is Accept);
        c.DeliverQueued(m => m is Accepted);
        Assert.Equal(1, c[1].CommitIndex);
        Assert.True(c[1].HasUnsentCommit);

        var ready = c.Handle(1, c[1].Resign());
        Assert.Equal(ReplicaRole.Follower, c[1].Role);
        Assert.Null(c[1].LeaderBallot);
        Assert.Equal(2, ready.Messages.OfType<Heartbeat>().Count(h => h.CommitIndex == 1));
        c.DeliverAll();
        Assert.Equal(1, c[2].CommitIndex);
        Assert.Equal(1, c[3].CommitIndex);

        // The next activation campaigns again and keeps what was chosen.
        c.Elect(2);
        c.Propose(2, "b");
        c.DeliverAll();
        Assert.Equal(["a", "b"], c.StateOf(2));
    }
}

using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

public class ElectionTests
{
    [Fact]
    public void Campaign_sends_prepares_and_a_quorum_of_promises_makes_a_leader()
    {
        var c = new Cluster(3);
        var ready = c.Campaign(1);

        Assert.Equal(ReplicaRole.Candidate, c[1].Role);
        var prepares = ready.Messages.OfType<Prepare>().ToList();
        Assert.Equal([2L, 3L], prepares.Select(p => p.To));
        Assert.All(prepares, p => Assert.Equal(new Ballot(1, 1), p.Ballot));
        Assert.Equal(new Ballot(1, 1), ready.HardState?.Promised);

        // One promise (plus its own) is a quorum of three.
        c.DeliverQueued(m => m is Prepare { To: 2 });
        Assert.True(c.DeliverOne(m => m is Promise { From: 2 }));
        Assert.True(c[1].IsLeader);
        c.DeliverAll();
        Assert.Equal(new Ballot(1, 1), c[3].Promised);
        Assert.Equal(1, c[2].LeaderHint);
        Assert.Equal(1, c[3].LeaderHint);
    }

    [Fact]
    public void A_candidate_queues_proposals_and_proposes_them_once_it_leads()
    {
        var c = new Cluster(3);
        c.Campaign(1);
        c.Propose(1, "early");
        Assert.Empty(c.Node(1).Rejections);
        Assert.Equal(1, c[1].PendingProposals);
        Assert.DoesNotContain(c.Queue, m => m is Accept);

        c.DeliverAll();
        Assert.Equal(["early"], c.StateOf(1));
        c.Tick(1, 2);
        c.DeliverAll();
        Assert.Equal(["early"], c.StateOf(2));
        Assert.Equal(["early"], c.StateOf(3));
    }

    [Fact]
    public void Dueling_candidates_end_with_the_higher_ballot_leading()
    {
        var c = new Cluster(3);
        c.Campaign(1);
        c.Campaign(2);
        c.DeliverAll();
        Assert.True(c[2].IsLeader);
        Assert.Equal(ReplicaRole.Follower, c[1].Role);
        Assert.Contains(c.Delivered, m => m is Rejected { To: 1 } || m is Rejected { To: 2 });
    }

    [Fact]
    public void A_leader_that_sees_a_higher_ballot_steps_down_and_reports_its_unfinished_work()
    {
        var c = new Cluster(3, o => { o.Window = 1; o.MaxBatchCommands = 1; });
        c.Elect(1);
        c.Drop(m => m.From == 1); // nothing r1 sends arrives: "a" stays in flight, the read unconfirmed
        c.Propose(1, "a", "b");
        c.ReadIndex(1, requestId: 9);
        Assert.Equal(1, c[1].PendingProposals);

        c.Campaign(2);
        c.DeliverQueued(m => m is Prepare { To: 1 });

        var r1 = c.Node(1);
        Assert.Equal(ReplicaRole.Follower, c[1].Role);
        var rejection = Assert.Single(r1.Rejections);
        Assert.Equal("b", System.Text.Encoding.UTF8.GetString(rejection.Command!.Payload));
        Assert.Equal(RejectionReason.NotLeader, rejection.Reason);
        Assert.Equal(2, rejection.LeaderHint);
        Assert.Equal("a", System.Text.Encoding.UTF8.GetString(Assert.Single(r1.Abandoned).Payload));
        Assert.Equal([9L], r1.FailedReads);
    }

    [Fact]
    public void A_leader_steps_down_on_a_rejection_naming_a_higher_ballot()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Drop(m => m.From == 1 && m.To == 3);
        c.Campaign(3);
        c.DeliverQueued(m => m is Prepare { To: 2 });
        c.DropQueued(m => m.To == 3);
        c.Propose(1, "x");
        c.DeliverQueued(m => m is Accept { To: 2 });
        Assert.True(c.DeliverOne(m => m is Rejected { To: 1 }));
        Assert.False(c[1].IsLeader);
        Assert.Equal(3, c[1].LeaderHint);
    }

    private static Cluster ElectionCluster(int n = 3) => new(n, o => { o.ElectionTimeoutTicks = 10; o.HeartbeatTicks = 2; });

    [Fact]
    public void A_follower_campaigns_after_its_randomized_election_timeout()
    {
        var c = ElectionCluster(5);
        var timeouts = new List<int>();
        foreach (long id in new long[] { 1, 2, 3, 4, 5 })
        {
            int ticks = 0;
            while (c[id].Role == ReplicaRole.Follower)
            {
                c.Tick(id);
                Assert.True(++ticks < 100, "never campaigned");
            }
            timeouts.Add(ticks);
            Assert.Contains(c.Sent, m => m is Prepare p && p.From == id);
        }
        Assert.All(timeouts, t => Assert.InRange(t, 10, 19));
        Assert.True(timeouts.Distinct().Count() > 1, "timeouts should be randomized: " + string.Join(",", timeouts));
    }

    [Fact]
    public void Heartbeats_hold_followers_off()
    {
        var c = ElectionCluster();
        c.Elect(1);
        for (int round = 0; round < 100; round++)
        {
            c.TickAll();
            c.DeliverAll();
        }
        Assert.True(c[1].IsLeader);
        Assert.Equal(new Ballot(1, 1), c[2].Promised);
        Assert.Equal(new Ballot(1, 1), c[3].Promised);
        Assert.DoesNotContain(c.Sent, m => m is Prepare p && p.From != 1);
    }

    [Fact]
    public void Check_quorum_makes_an_isolated_leader_step_down_and_the_rest_elect_another()
    {
        var c = ElectionCluster();
        c.Elect(1);
        c.Isolate(1);
        // The check runs every ElectionTimeoutTicks over the replicas heard since the previous check, so an
        // isolated leader notices within two timeouts (the first check may still count acks from before).
        int ticks = 0;
        while (c[1].IsLeader)
        {
            c.Tick(1);
            Assert.True(++ticks <= 20, "an isolated leader kept leading");
        }
        Assert.InRange(ticks, 10, 20);
        Assert.Equal(ReplicaRole.Follower, c[1].Role);

        for (int round = 0; round < 60 && !(c[2].IsLeader || c[3].IsLeader); round++)
        {
            c.TickAll();
            c.DeliverAll();
        }
        Assert.True(c[2].IsLeader || c[3].IsLeader);
    }

    [Fact]
    public void A_connected_leader_keeps_leading_through_check_quorum()
    {
        var c = ElectionCluster();
        c.Elect(1);
        c.Isolate(3); // one follower gone: still a quorum
        for (int round = 0; round < 50; round++)
        {
            c.Tick(1);
            c.Tick(2);
            c.DeliverAll();
        }
        Assert.True(c[1].IsLeader);
    }
}

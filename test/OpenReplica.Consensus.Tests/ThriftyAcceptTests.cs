using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

/// <summary>
/// Thrifty accepts (<see cref="ReplicaOptions.AcceptSpares"/>): a leader sends each slot's accept to a bare quorum
/// (plus the spares), and the members left out get the chosen entries pushed with its next heartbeat.
/// </summary>
public class ThriftyAcceptTests
{
    [Fact]
    public void With_no_spares_an_accept_goes_to_a_bare_majority_and_the_rest_learn_from_the_next_heartbeat()
    {
        var c = new Cluster(5, o => { o.AcceptSpares = 0; o.MaxBatchCommands = 1; o.Window = 8; });
        c.Elect(1);

        var targets = AcceptTargetsOf(c, 1, "a", "b", "c");
        Assert.Equal(2, targets.Count); // leader + 2 of 4 followers = 3 of 5
        Assert.Equal(3, c[1].CommitIndex);
        Assert.Equal(["a", "b", "c"], c.StateOf(1));
        var leftOut = new long[] { 2, 3, 4, 5 }.Except(targets).ToList();
        Assert.All(leftOut, id => Assert.Equal(0, c[id].CommitIndex));
        Assert.True(c[1].HasUnsentCommit, "members left out still lack chosen entries: the leader must flush");

        c.Tick(1, 2); // the heartbeat pushes the chosen entries to the members left out
        c.DeliverAll();

        var pushes = c.Delivered.OfType<CatchUpResponse>().Where(r => r.From == 1).ToList();
        Assert.Equal(leftOut, pushes.Select(p => p.To).Order().ToList());
        Assert.All(pushes, p => Assert.Equal([1L, 2L, 3L], p.Entries.Select(e => e.Slot)));
        Assert.Empty(c.Delivered.OfType<CatchUpRequest>()); // nobody had to ask
        Assert.All(new long[] { 2, 3, 4, 5 }, id => Assert.Equal(3, c[id].CommitIndex));
        Assert.False(c[1].HasUnsentCommit);
    }

    [Fact]
    public void A_spare_adds_one_member_to_every_accept()
    {
        var c = new Cluster(5, o => o.AcceptSpares = 1);
        c.Elect(1);

        Assert.Equal(3, AcceptTargetsOf(c, 1, "a").Count);
    }

    [Fact]
    public void With_as_many_spares_as_followers_every_member_gets_every_accept()
    {
        var c = new Cluster(3, o => o.AcceptSpares = 1);
        c.Elect(1);

        Assert.Equal([2L, 3L], AcceptTargetsOf(c, 1, "a"));
        c.Tick(1, 2);
        c.DeliverAll();
        Assert.Empty(c.Sent.OfType<CatchUpResponse>()); // nobody was left out, so nothing is pushed
        Assert.All(new long[] { 2, 3 }, id => Assert.Equal(1, c[id].CommitIndex));
    }

    [Fact]
    public void A_silent_preferred_member_is_passed_over_after_one_retransmission_and_the_next_slots_do_not_wait_for_it()
    {
        var c = new Cluster(3, o => { o.AcceptSpares = 0; o.MaxBatchCommands = 1; });
        c.Elect(1);
        int sentBefore = c.Sent.Count;
        c.Propose(1, "a");
        long preferred = c.Sent.Skip(sentBefore).OfType<Accept>().Single().To;
        long other = preferred == 2 ? 3 : 2;

        c.Isolate(preferred);
        c.DeliverAll();
        Assert.Equal(0, c[1].CommitIndex); // the accept went to the silent member only

        c.Tick(1, 4); // RetransmitTicks: the accept goes to every member, and the silent one loses its place
        c.DeliverAll();
        Assert.Equal(1, c[1].CommitIndex);

        sentBefore = c.Sent.Count;
        c.Propose(1, "b");
        c.DeliverAll();
        Assert.Equal(other, c.Sent.Skip(sentBefore).OfType<Accept>().Single().To);
        Assert.Equal(2, c[1].CommitIndex); // chosen without a retransmission
        Assert.Equal(["a", "b"], c.StateOf(1));
    }

    [Fact]
    public void A_member_left_out_that_is_then_needed_for_the_quorum_holds_every_chosen_entry_after_failover()
    {
        var c = new Cluster(3, o => { o.AcceptSpares = 0; o.MaxBatchCommands = 1; });
        c.Elect(1);
        c.Propose(1, "a", "b");
        c.DeliverAll();
        c.Tick(1, 2);
        c.DeliverAll(); // the member left out got the entries pushed

        c.Crash(1);
        long next = 2;
        c.Elect(next);
        c.Propose(next, "c");
        c.DeliverAll();
        c.Tick(next, 4); // if its accept went to the crashed r1 first, the retransmission reaches r3
        c.DeliverAll();
        c.Tick(next, 2); // and the next heartbeat tells r3 it was chosen
        c.DeliverAll();

        Assert.Equal(["a", "b", "c"], c.StateOf(2));
        Assert.Equal(["a", "b", "c"], c.StateOf(3));
    }

    [Fact]
    public void A_stale_leader_pushed_a_slot_that_a_later_ballot_chose_steps_down_and_abandons_its_own_proposal()
    {
        // r2 leads and proposes "old", whose accepts are lost; r3 then leads a higher ballot that r2 never hears of and
        // chooses "new" at the same slot with r1 (r3's ring order prefers r1), and pushes it to r2, left out.
        var c = new Cluster(3, o => { o.AcceptSpares = 0; o.MaxBatchCommands = 1; });
        c.Elect(2);
        c.Drop(m => m.From == 2);
        c.Propose(2, "old");
        c.Drop(m => m.To == 2 && m is not CatchUpResponse); // r2 hears nothing of ballot 2 but the pushes
        c.Elect(3);
        c.Propose(3, "new");
        c.DeliverAll();
        Assert.Equal(1, c[3].CommitIndex);
        Assert.True(c[2].IsLeader);

        c.Tick(3, 2); // the heartbeat pushes the chosen slot to r2
        c.DeliverAll();

        Assert.Contains(c.Delivered.OfType<CatchUpResponse>(), r => r.To == 2 && r.From == 3);
        Assert.False(c[2].IsLeader);
        Assert.Contains(c.Node(2).Abandoned, cmd => System.Text.Encoding.UTF8.GetString(cmd.Payload) == "old");
        Assert.Equal(["new"], c.StateOf(2));
        Assert.Equal(["new"], c.StateOf(3));
    }

    [Fact]
    public void The_groups_a_replica_leads_prefer_the_same_next_members_in_ring_order()
    {
        // Ring order from the leader's id: r4 of five prefers r5, then r1 (a bare majority with its own vote).
        var c = new Cluster(5, o => o.AcceptSpares = 0);
        c.Elect(4);
        Assert.Equal([1L, 5L], AcceptTargetsOf(c, 4, "a"));
    }

    [Fact]
    public void Accept_spares_below_zero_are_refused_with_the_options_name()
    {
        var e = Assert.Throws<ArgumentException>(() => new PaxosReplica(new ReplicaOptions
        {
            ReplicaId = 1, InitialConfig = new ClusterConfig([1, 2, 3]), AcceptSpares = -1,
        }));
        Assert.Contains("AcceptSpares", e.Message);
    }

    /// <summary>Proposes <paramref name="payloads"/> on <paramref name="leader"/>, delivers everything, and returns whom its accepts went to.</summary>
    private static List<long> AcceptTargetsOf(Cluster c, long leader, params string[] payloads)
    {
        int sentBefore = c.Sent.Count;
        c.Propose(leader, payloads);
        c.DeliverAll();
        return [.. c.Sent.Skip(sentBefore).OfType<Accept>().Where(a => a.From == leader).Select(a => a.To).Distinct().Order()];
    }
}

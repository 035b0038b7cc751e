using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

public class ReconfigurationTests
{
    private const int Window = 4;

    private static Cluster NewCluster() => new(3, o => { o.Window = Window; o.MaxBatchCommands = 1; });

    /// <summary>Proposes <paramref name="config"/> on r1 and returns the slot it was chosen at.</summary>
    private static long Choose(Cluster c, ClusterConfig config)
    {
        c.ProposeConfig(1, config);
        c.DeliverAll();
        return c.Node(1).Committed.Single(e => e.Kind == LogValueKind.Config && e.Config!.Equals(config)).Slot;
    }

    private static void Fill(Cluster c, int commands, string prefix = "op")
    {
        for (int i = 0; i < commands; i++)
        {
            c.Propose(1, $"{prefix}{i}");
            c.DeliverAll();
        }
        c.Tick(1, 2);
        c.DeliverAll();
    }

    /// <summary>A cluster led by r1 with one command chosen, and r4 started (not yet a member); the configuration adding it.</summary>
    private static (Cluster, ClusterConfig Added) LeaderWithANewNode4()
    {
        var c = NewCluster();
        c.Elect(1);
        c.Propose(1, "before");
        c.DeliverAll();
        c.AddNode(4);
        return (c, c.Genesis.With(4));
    }

    [Fact]
    public void An_added_member_is_in_force_exactly_window_slots_after_the_slot_that_chose_it_and_catches_up()
    {
        var (c, added) = LeaderWithANewNode4();
        long chosenAt = Choose(c, added);
        Assert.Equal(2, chosenAt);

        Fill(c, 6);
        foreach (long id in new long[] { 1, 2, 3, 4 })
        {
            Assert.Equal(c.Genesis, c[id].Configs.At(chosenAt + Window - 1));
            Assert.Equal(added, c[id].Configs.At(chosenAt + Window));
        }
        // r4 is asked to accept from the first slot of the new configuration on, never before it.
        var slotsSentTo4 = c.Sent.OfType<Accept>().Where(a => a.To == 4).SelectMany(a => a.Entries).Select(e => e.Slot).ToList();
        Assert.NotEmpty(slotsSentTo4);
        Assert.Equal(chosenAt + Window, slotsSentTo4.Min());
        // The new member was sent the earlier slots by the leader once the addition came into force (without asking
        // first) and has the same state.
        Assert.Contains(c.Delivered, m => m is CatchUpResponse { From: 1, To: 4, CommitIndex: >= 2 + Window - 1 });
        Assert.Equal(c.StateOf(1), c.StateOf(4));
        Assert.Equal(7, c.StateOf(4).Count);
    }

    [Fact]
    public void A_joining_member_whose_log_from_the_leader_is_lost_asks_for_it()
    {
        var (c, added) = LeaderWithANewNode4();
        // The leader's unasked catch-up to the new member is lost on the way.
        c.Drop(m => m is CatchUpResponse { From: 1, To: 4 } && !c.Delivered.Any(d => d is CatchUpRequest { From: 4 }));
        long chosenAt = Choose(c, added);
        Fill(c, 6);
        Assert.Contains(c.Dropped, m => m is CatchUpResponse { From: 1, To: 4 });
        // It learns the commit index from the leader's messages and fetches the log itself, as before.
        Assert.Contains(c.Delivered, m => m is CatchUpRequest { From: 4 });
        Assert.Equal(c.StateOf(1), c.StateOf(4));
        Assert.Equal(added, c[4].Configs.At(chosenAt + Window));
    }

    [Fact]
    public void A_removed_member_gets_no_accepts_once_the_removal_is_in_force()
    {
        var c = NewCluster();
        c.Elect(1);
        var removed = c.Genesis.Without(3);
        long chosenAt = Choose(c, removed);
        Fill(c, 5);
        var slotsSentTo3 = c.Sent.OfType<Accept>().Where(a => a.To == 3).SelectMany(a => a.Entries).Select(e => e.Slot);
        Assert.Equal(chosenAt + Window - 1, slotsSentTo3.Max());

        // {1, 2} decides alone now: r3 down changes nothing.
        c.Crash(3);
        c.Propose(1, "after");
        c.DeliverAll();
        Assert.Equal("after", c.StateOf(1)[^1]);
    }

    [Fact]
    public void A_replaced_member_hands_over_to_the_new_one()
    {
        var c = NewCluster();
        c.Elect(1);
        c.AddNode(4);
        var replaced = c.Genesis.Replace(3, 4);
        long chosenAt = Choose(c, replaced);
        Fill(c, Window);
        Assert.Equal(replaced, c[1].Config);

        // The new configuration {1, 2, 4} commits without r3, and r4 holds the whole state.
        c.Crash(3);
        c.Crash(2);
        c.Propose(1, "needs-r4");
        c.DeliverAll();
        Assert.Equal("needs-r4", c.StateOf(1)[^1]);
        c.Tick(1, 2);
        c.DeliverAll();
        Assert.Equal(c.StateOf(1), c.StateOf(4));
        Assert.Equal(replaced, c[4].Configs.At(chosenAt + Window));
    }

    [Fact]
    public void A_second_change_is_refused_while_one_is_pending_and_accepted_once_it_is_in_force()
    {
        var c = NewCluster();
        c.Elect(1);
        c.AddNode(4);
        c.ProposeConfig(1, c.Genesis.With(4));
        c.ProposeConfig(1, c.Genesis.Without(3));
        Assert.Equal(RejectionReason.ConfigChangeInProgress, Assert.Single(c.Node(1).Rejections).Reason);

        // Chosen at slot 1, in force from slot 1 + Window: the idle leader fills the window with no-ops, so the
        // change comes into force without client traffic.
        c.DeliverAll();
        Assert.Equal(c.Genesis.With(4), c[1].Config);
        Assert.Equal(Window - 1, c.Node(1).Committed.Count(e => e.Kind == LogValueKind.Noop));
        c.ProposeConfig(1, c[1].Config.Without(3));
        c.DeliverAll();
        Assert.Single(c.Node(1).Rejections);
        Assert.Equal(2, c.Node(1).Committed.Count(e => e.Kind == LogValueKind.Config));
    }

    [Fact]
    public void A_lost_prepare_to_an_added_member_is_retried_on_ticks_so_the_next_change_is_chosen()
    {
        // An added member may have no replica yet when the leader first asks it for phase 1 (a host creates it on
        // the first message and drops that message). With no client traffic, ticks alone must retry the prepare:
        // otherwise the next configuration change (removing the member being replaced) waits forever.
        var c = NewCluster();
        c.Crash(3); // the member being replaced is dead: phase 1 with {1, 2, 3, 4} needs r4
        c.Elect(1);
        c.AddNode(4);
        c.Drop(m => m is Prepare { To: 4 });
        var added = c.Genesis.With(4);
        Choose(c, added);
        Assert.Equal(added, c[1].Config);
        var replaced = added.Without(3);
        c.ProposeConfig(1, replaced);
        c.DeliverAll();
        Assert.Contains(c.Dropped, m => m is Prepare { To: 4 });
        Assert.NotEqual(replaced, c[1].Configs.Latest);
        c.Heal();
        for (int i = 0; i < 20 && !c[1].Configs.Latest.Equals(replaced); i++)
        {
            Assert.True(c[1].HasInFlightWork, "a leader waiting for phase 1 with a pending change asks for ticks");
            c.Tick(1);
            c.DeliverAll();
        }
        Assert.Equal(replaced, c[1].Configs.Latest);
        Assert.Contains(c.Delivered, m => m is Promise { From: 4 });
    }

    [Fact]
    public void A_follower_cannot_propose_a_configuration()
    {
        var c = NewCluster();
        c.Elect(1);
        c.ProposeConfig(2, c.Genesis.Without(3));
        var rejection = Assert.Single(c.Node(2).Rejections);
        Assert.Equal(RejectionReason.NotLeader, rejection.Reason);
        Assert.Null(rejection.Command);
        Assert.Equal(1, rejection.LeaderHint);
    }

    [Fact]
    public void A_member_added_after_the_log_was_compacted_catches_up_from_a_snapshot()
    {
        var c = NewCluster();
        c.Elect(1);
        Fill(c, 3);
        foreach (long id in new long[] { 1, 2, 3 }) c.Compact(id);
        c.AddNode(4);
        var added = c.Genesis.With(4);
        long chosenAt = Choose(c, added);
        Fill(c, Window + 1, "new");

        // Sent by the leader once the addition came into force, with the entries after it: the member never asks.
        Assert.Contains(c.Delivered, m => m is InstallSnapshot { To: 4 });
        Assert.DoesNotContain(c.Delivered, m => m is CatchUpRequest { From: 4 });
        Assert.Equal(c.StateOf(1), c.StateOf(4));
        Assert.Equal(added, c[4].Configs.At(chosenAt + Window));
    }

    [Fact]
    public void A_leader_that_removes_itself_keeps_deciding_for_the_new_configuration()
    {
        var c = NewCluster();
        c.Elect(1);
        var without1 = c.Genesis.Without(1);
        long chosenAt = Choose(c, without1);
        Fill(c, Window + 2);
        var late = c.Node(1).Committed.Where(e => e.Slot >= chosenAt + Window).ToList();
        Assert.NotEmpty(late);
        // Slots in force under {2, 3} are accepted by r2 and r3 only; r1 still learns and applies them.
        Assert.DoesNotContain(c[1].Entries, e => e.Slot >= chosenAt + Window && !e.Chosen);
        Assert.Equal(c.StateOf(1), c.StateOf(2));
        Assert.Equal(Window + 2, c.StateOf(2).Count);
    }

    [Fact]
    public void Config_history_reports_the_config_in_force_at_each_slot()
    {
        var a = new ClusterConfig([1, 2, 3]);
        var b = new ClusterConfig([1, 2, 3, 4]);
        var history = ConfigHistory.Start(a).Add(6, b);
        Assert.Equal(a, history.At(5));
        Assert.Equal(b, history.At(6));
        Assert.Equal(b, history.Latest);
        Assert.Equal([1L, 2L, 3L, 4L], history.MembersBetween(3, 6));
        Assert.Equal([1L, 2L, 3L], history.MembersBetween(3, 5));
        Assert.Equal(2, history.ConfigsBetween(5, 6).Count());
        Assert.Single(history.TrimBefore(7).Epochs);
        Assert.Equal(new ClusterConfig([3, 1, 2, 2]), a);
    }
}

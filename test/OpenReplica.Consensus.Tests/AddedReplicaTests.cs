using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

/// <summary>
/// A replica added to a group that already has a long log starts from a peer's view of the group (its configuration
/// history, or only its newest configuration) and catches up by replaying the log. Session 9's rolling replacement
/// stalled on one: a member added back to a group it had left replayed configurations the group had left, took each as
/// its newest, and its grain's activation campaigned with a configuration whose other members were gone.
/// </summary>
public class AddedReplicaTests
{
    private const int Window = 4;

    // Catch-up answers carry a few entries each, as a long log does (the host sends 256 per answer).
    private static Cluster NewCluster() => new(3, o => { o.Window = Window; o.MaxBatchCommands = 1; o.MaxCatchUpEntries = 3; });

    /// <summary>Proposes <paramref name="config"/> on <paramref name="leader"/>, then fills ten slots so it is in force.</summary>
    private static void Reconfigure(Cluster c, long leader, ClusterConfig config)
    {
        c.ProposeConfig(leader, config);
        c.DeliverAll();
        Fill(c, leader, 10, $"after{string.Join("-", config.Members)}-");
        Assert.Equal(config, c[leader].Config);
    }

    private static void Fill(Cluster c, long leader, int commands, string prefix)
    {
        for (int i = 0; i < commands; i++)
        {
            c.Propose(leader, $"{prefix}{i}");
            c.DeliverAll();
        }
        c.Tick(leader, 2);
        c.DeliverAll();
    }

    /// <summary>
    /// Genesis {1,2,3}; r6 replaces r3, r4 replaces r6, r5 replaces r1, and r6 (its silo having forgotten the group)
    /// is added back in place of r2, led by r4: the group ends as {4,5,6} with r1, r2, r3 gone and no replica on r6's
    /// silo yet. Returns the cluster.
    /// </summary>
    private static Cluster GroupThatAddsAMemberBack()
    {
        var c = NewCluster();
        c.Elect(1);
        Fill(c, 1, 3, "genesis-");
        c.AddNode(6);
        Reconfigure(c, 1, new ClusterConfig([1, 2, 6]));
        c.AddNode(4);
        Reconfigure(c, 1, new ClusterConfig([1, 2, 4]));
        c.Crash(6);
        c.Nodes.Remove(6); // the group left r6's silo, which forgot its replica
        c.AddNode(5);
        Reconfigure(c, 1, new ClusterConfig([2, 4, 5]));
        c.Elect(4);
        Reconfigure(c, 4, new ClusterConfig([4, 5, 6])); // r6's silo holds no replica yet: r4 and r5 decide
        foreach (long gone in new long[] { 1, 2, 3 }) c.Crash(gone);
        return c;
    }

    [Fact]
    public void A_replica_started_from_a_peers_view_never_names_an_older_configuration_while_it_replays_the_log()
    {
        var c = GroupThatAddsAMemberBack();
        var view = c[4].Configs;
        Assert.Equal(new ClusterConfig([4, 5, 6]), view.Latest);

        // First contact: r6's new replica starts from r4's view, then learns the log a few entries per answer.
        c.AddNode(6, o => o.InitialConfigs = view);
        c.Handle(4, c[4].AnnounceCommit());
        int delivered = 0;
        while (c.Queue.Count > 0 && delivered++ < 10_000)
        {
            c.DeliverOne();
            Assert.True(c[6].Configs.Latest.Equals(view.Latest) && c[6].Configs.LatestFromSlot == view.LatestFromSlot,
                $"r6's newest configuration went back to {c[6].Configs.Latest} (from slot {c[6].Configs.LatestFromSlot}) at commit {c[6].CommitIndex}");
        }
        Assert.Equal(c[4].CommitIndex, c[6].CommitIndex);
        Assert.Equal(c.StateOf(4), c.StateOf(6));
        Assert.Equal(view.Epochs, c[6].Configs.Epochs);
    }

    [Fact]
    public void A_lagging_replica_added_back_campaigns_with_the_newest_configuration_and_catches_up_from_its_members()
    {
        var c = GroupThatAddsAMemberBack();
        c.AddNode(6, o => o.InitialConfigs = c[4].Configs);
        c.Handle(4, c[4].AnnounceCommit());
        // r6 has replayed part of the log, past the configuration {1,2,6} it was a member of before, when the grain's
        // activation lands on it and campaigns; the rest of its catch-up is lost.
        for (int round = 0; round < 9 && c[6].CommitIndex < 9; round++) c.DeliverQueued(m => m.To == 6 || m.From == 6);
        c.Queue.Clear();
        Assert.Equal(new ClusterConfig([1, 2, 6]), c[6].Configs.At(c[6].CommitIndex + 1));
        Assert.Equal(new ClusterConfig([4, 5, 6]), c[6].Configs.Latest);

        c.Campaign(6);
        c.DeliverAll();
        c.TickAll(Window);
        c.DeliverAll();
        // Its prepares reached the newest configuration's members, whose promises carried the log it lacked.
        Assert.Contains(c.Delivered, m => m is Prepare { From: 6, To: 4 });
        Assert.Contains(c.Delivered, m => m is Prepare { From: 6, To: 5 });
        Assert.True(c[6].IsLeader, $"r6 should lead the newest configuration: {c[6]}");
        c.Propose(6, "from-r6");
        c.DeliverAll();
        c.Tick(6, 2);
        c.DeliverAll();
        Assert.Equal("from-r6", c.StateOf(6)[^1]);
        Assert.Equal(c.StateOf(4), c.StateOf(6));
    }

    /// <summary>
    /// Genesis {1,2,3}, led by r1, chooses {3,4,5} at slot 1 and fills slots 2-4 (still {1,2,3}'s) with no-ops, with r1 and
    /// r2 alone: r3, r4 and r5 hold nothing. r5 starts knowing only the newest configuration, in force from slot 5 (as a
    /// birth that adopted a peer's newest configuration would), and campaigns. Returns the cluster.
    /// </summary>
    private static Cluster NewMembersThatHoldNothing(Action<ReplicaOptions>? configure5 = null)
    {
        var c = NewCluster();
        c.Elect(1);
        c.Drop(m => m.To is 3 or 4 or 5);
        c.AddNode(4);
        var next = new ClusterConfig([3, 4, 5]);
        c.ProposeConfig(1, next);
        c.DeliverAll();
        Assert.Equal(Window, c[1].CommitIndex);
        Assert.Equal(next, c[1].Configs.At(1 + Window));
        c.AddNode(5, o =>
        {
            o.InitialConfigs = ConfigHistory.FromEpochs([(1 + Window, next)]);
            configure5?.Invoke(o);
        });
        c.Heal();
        c.Campaign(5);
        c.DeliverAll();
        c.TickAll(Window * 2);
        c.DeliverAll();
        return c;
    }

    [Fact]
    public void A_replica_that_knows_only_the_newest_configuration_leads_only_once_its_log_tells_it_the_ones_before()
    {
        var c = NewMembersThatHoldNothing();
        // r3 and r4 promised, but slots 1-4 are {1,2,3}'s: a quorum of {3,4,5} there would be a guess.
        Assert.Contains(c.Delivered, m => m is Promise { From: 4, To: 5 });
        Assert.False(c[5].IsLeader, $"r5 led before it knew the configurations below slot {1 + Window}: {c[5]}");

        // r5's ballot stopped r1, which campaigns again (as the old configuration's leader would): its accepts carry
        // the commit index to r3, r4 and r5, which fetch the log; then r5 leads.
        c.Campaign(1);
        c.DeliverAll();
        c.Propose(1, "x4");
        c.DeliverAll();
        c.TickAll(Window * 2);
        c.DeliverAll();
        c.Campaign(5);
        c.DeliverAll();
        Assert.True(c[5].IsLeader, $"r5 should lead once it knows the log: {c[5]}");
        c.Propose(5, "from-r5");
        c.DeliverAll();
        c.Tick(5, 2);
        c.DeliverAll();
        Assert.Equal(["x4", "from-r5"], c.StateOf(5)); // r1 filled slots 2-4 with no-ops before {3,4,5} came into force
        Assert.Equal(LogValueKind.Config, c[5].Entries.Single(e => e.Slot == 1).Value.Kind);
        Assert.Equal(c.StateOf(5), c.StateOf(4));
    }

    [Fact]
    public void Without_that_rule_the_replica_chooses_a_second_value_for_a_chosen_slot()
    {
        // r5 knows only {3,4,5} from slot 5, so its vote floor (ReAddedMemberTests) is slot 5 too and would keep it from
        // leading below it on its own: both rules are switched off.
        var c = NewMembersThatHoldNothing(o => { o.PlantedBugs = PlantedBug.LeadBeforeKnownConfig | PlantedBug.VoteBelowFloor; o.AllowPlantedBugs = true; });
        Assert.True(c[5].IsLeader, c[5].ToString());
        var chosenBy1 = c[1].Entries.Single(e => e.Slot == 1).Value;
        var chosenBy5 = c[5].Entries.Single(e => e.Slot == 1 && (e.Chosen || e.Slot <= c[5].CommitIndex)).Value;
        Assert.Equal(LogValueKind.Config, chosenBy1.Kind);
        Assert.NotEqual(chosenBy1.Kind, chosenBy5.Kind); // slot 1 chosen twice: the planted bug breaks safety
    }

    [Fact]
    public void A_history_inserts_older_epochs_before_the_ones_it_knows_and_refuses_two_configurations_for_one_slot()
    {
        var a = new ClusterConfig([1, 2, 3]);
        var b = new ClusterConfig([1, 2, 4]);
        var c = new ClusterConfig([1, 4, 5]);
        var fromView = ConfigHistory.FromEpochs([(20, c)]);
        Assert.Equal(20, fromView.KnownFrom);

        var replayed = fromView.Add(9, b);
        Assert.Equal(c, replayed.Latest);
        Assert.Equal(9, replayed.KnownFrom);
        Assert.Equal(b, replayed.At(12));
        Assert.Equal(c, replayed.At(20));
        Assert.Same(replayed, replayed.Add(20, c)); // the entry that chose the known configuration, replayed
        Assert.Throws<InvariantViolationException>(() => replayed.Add(20, a));

        // A snapshot older than the view keeps what the view knew beyond it.
        var snapshot = ConfigHistory.Start(a).Add(9, b);
        var merged = snapshot.ThenNewerOf(replayed);
        Assert.Equal([(1L, a), (9L, b), (20L, c)], merged.Epochs.Select(e => (e.FromSlot, e.Config)));
        Assert.Same(snapshot, snapshot.ThenNewerOf(ConfigHistory.Start(b)));
    }
}

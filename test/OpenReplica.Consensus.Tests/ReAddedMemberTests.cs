using System.Text;
using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

/// <summary>
/// A member added back to a group after its silo dropped its replica gets a new, empty replica under the same id. The
/// votes the dropped replica cast are gone, so below the first slot of its current membership (its vote floor) the new
/// replica must not count as an acceptor: before the floor existed, such a replica led the configuration it had left
/// with one member that had missed a chosen value, and chose a second value for that slot.
/// </summary>
public class ReAddedMemberTests
{
    private const int Window = 4;

    /// <summary>
    /// Genesis {1,2,3}, led by r1, with r2 cut off throughout: r1 and r3 choose "v" in the first slot, then {1,2,4}
    /// (r3's silo drops its replica), then {1,2,3} again with r1 and r4. r3's new replica starts from r1's view; r1 and
    /// r4 are then cut off and r2 heard again. Returns the cluster and the slot "v" was chosen in.
    /// </summary>
    private static (Cluster Cluster, long SlotOfV) GroupThatAddsR3Back(PlantedBug bugs = PlantedBug.None)
    {
        var c = new Cluster(3, o => { o.Window = Window; o.MaxBatchCommands = 1; });
        c.Elect(1);
        c.Isolate(2);
        c.Propose(1, "v");
        c.DeliverAll();
        long slotOfV = c[1].Entries.Single(e => e.Value.Commands.Any(x => Encoding.UTF8.GetString(x.Payload) == "v")).Slot;
        c.AddNode(4);
        Reconfigure(c, new ClusterConfig([1, 2, 4]), "a");
        c.Crash(3);
        c.Nodes.Remove(3); // the group left r3's silo, which dropped its replica
        Reconfigure(c, new ClusterConfig([1, 2, 3]), "b");
        var view = c[1].Configs;
        c.Heal();
        c.Isolate(1);
        c.Isolate(4);
        c.AddNode(3, o =>
        {
            o.InitialConfigs = view;
            o.PlantedBugs = bugs;
            o.AllowPlantedBugs = bugs != PlantedBug.None;
        });
        return (c, slotOfV);
    }

    private static void Reconfigure(Cluster c, ClusterConfig config, string prefix)
    {
        c.ProposeConfig(1, config);
        c.DeliverAll();
        for (int i = 0; i < 10; i++)
        {
            c.Propose(1, $"{prefix}{i}");
            c.DeliverAll();
        }
        Assert.Equal(config, c[1].Config);
    }

    private static void Run(Cluster c)
    {
        c.DeliverAll();
        c.TickAll(Window * 2);
        c.DeliverAll();
    }

    /// <summary>The value <paramref name="id"/> holds as chosen for <paramref name="slot"/>, or null.</summary>
    private static LogValue? ChosenAt(Cluster c, long id, long slot) =>
        c[id].Entries.SingleOrDefault(e => e.Slot == slot && (e.Chosen || e.Slot <= c[id].CommitIndex))?.Value;

    [Fact]
    public void A_replica_started_from_a_view_votes_from_the_first_slot_of_its_current_membership()
    {
        var (c, _) = GroupThatAddsR3Back();
        var epochs = c[3].Configs.Epochs;
        Assert.Equal(3, epochs.Count);
        Assert.Equal(epochs[2].FromSlot, c[3].VoteFloor); // {1,2,3} again: the run before it ended at {1,2,4}
        Assert.Equal(epochs[2].FromSlot, c[3].Configs.MemberSince(3));
        Assert.Equal(epochs[0].FromSlot, c[3].Configs.MemberSince(1)); // never left
        Assert.Equal(epochs[1].FromSlot + 1, ConfigHistory.FromEpochs(epochs.Take(2)).MemberSince(3)); // not a member
        Assert.Equal(0, c[1].VoteFloor); // a genesis member votes everywhere
    }

    [Fact]
    public void A_member_added_back_does_not_lead_the_configuration_it_left_with_a_member_that_missed_a_chosen_value()
    {
        var (c, slotOfV) = GroupThatAddsR3Back();
        c.Campaign(3);
        Run(c);
        Assert.False(c[3].IsLeader, $"r3 led below its vote floor {c[3].VoteFloor}: {c[3]}");
        Assert.Null(ChosenAt(c, 3, slotOfV));
        Assert.Null(ChosenAt(c, 2, slotOfV));

        // Once r1 is heard again, r3 learns the log and leads the newest configuration.
        c.Heal();
        c.Campaign(3);
        Run(c);
        c.Campaign(3);
        Run(c);
        Assert.True(c[3].IsLeader, $"r3 should lead once it knows the log: {c[3]}");
        c.Propose(3, "from-r3");
        Run(c);
        Assert.Equal(ChosenAt(c, 1, slotOfV), ChosenAt(c, 3, slotOfV));
        Assert.Equal(ChosenAt(c, 1, slotOfV), ChosenAt(c, 2, slotOfV));
        Assert.Equal("from-r3", c.StateOf(3)[^1]);
        Assert.Equal(c.StateOf(1), c.StateOf(3));
    }

    [Fact]
    public void Without_the_floor_the_member_added_back_chooses_a_second_value_for_a_chosen_slot()
    {
        var (c, slotOfV) = GroupThatAddsR3Back(PlantedBug.VoteBelowFloor);
        c.Campaign(3);
        Run(c);
        Assert.True(c[3].IsLeader);
        var first = ChosenAt(c, 1, slotOfV);
        var second = ChosenAt(c, 3, slotOfV);
        Assert.NotNull(second);
        Assert.NotEqual(first, second); // the planted bug breaks safety: the rule above is what prevents it
    }

    [Fact]
    public void A_member_added_back_promises_nothing_to_a_candidate_below_its_floor()
    {
        var (c, slotOfV) = GroupThatAddsR3Back();
        c.Campaign(2); // r2 missed everything since the genesis: its commit index is 0
        Run(c);
        Assert.DoesNotContain(c.Delivered, m => m is Promise { From: 3, To: 2 });
        Assert.False(c[2].IsLeader, $"r2 led with r3's empty promise: {c[2]}");
        c.Propose(2, "w");
        Run(c);
        Assert.Null(ChosenAt(c, 2, slotOfV));
        Assert.Null(ChosenAt(c, 3, slotOfV));
    }

    [Fact]
    public void Without_the_floor_its_empty_promise_lets_a_lagging_candidate_choose_a_second_value()
    {
        var (c, slotOfV) = GroupThatAddsR3Back(PlantedBug.VoteBelowFloor);
        c.Campaign(2);
        Run(c);
        Assert.True(c[2].IsLeader);
        c.Propose(2, "w");
        Run(c);
        Assert.NotEqual(ChosenAt(c, 1, slotOfV), ChosenAt(c, 2, slotOfV));
    }

    [Fact]
    public void A_member_added_back_accepts_and_confirms_nothing_below_its_floor()
    {
        var (c, _) = GroupThatAddsR3Back();
        long floor = c[3].VoteFloor;
        var ballot = new Ballot(100, 2);
        var below = new LogEntry(floor - 1, ballot, LogValue.Noop, false);
        var at = new LogEntry(floor, ballot, LogValue.Noop, false);
        var ready = c[3].Step(new Accept(2, 3, ballot, [below, at], 0));
        var accepted = Assert.Single(ready.Messages.OfType<Accepted>());
        Assert.Equal([floor], accepted.Slots);
        Assert.DoesNotContain(c[3].Entries, e => e.Slot == floor - 1);

        // A read confirmation (or lease) from a leader whose commit index is below the floor would speak for slots
        // where r3's former votes are gone.
        ready = c[3].Step(new Heartbeat(2, 3, ballot, 0, ReadContext: 7));
        Assert.Empty(ready.Messages.OfType<HeartbeatAck>());
        ready = c[3].Step(new Heartbeat(2, 3, ballot, floor - 1, ReadContext: 8));
        Assert.Single(ready.Messages.OfType<HeartbeatAck>());
    }

    [Fact]
    public void The_floor_is_durable_in_the_hard_state_and_a_hard_state_without_one_keeps_its_bytes()
    {
        var (c, _) = GroupThatAddsR3Back();
        long floor = c[3].VoteFloor;
        c.Tick(3);
        var hard = c.Node(3).Disk.HardState;
        Assert.Equal(floor, hard.VoteFloor); // persisted with the first Ready the replica made

        var decoded = WireCodec.DecodeHardState(WireCodec.Encode(new HardState(new Ballot(3, 1), 9, floor)));
        Assert.Equal(new HardState(new Ballot(3, 1), 9, floor), decoded);
        var plain = new HardState(new Ballot(3, 1), 9);
        Assert.Equal(WireCodec.Encode(plain).Length + sizeof(long), WireCodec.Encode(decoded).Length);
        Assert.Equal(plain, WireCodec.DecodeHardState(WireCodec.Encode(plain)));

        // Restarted from a disk whose options no longer name the view (the host's case): the hard state keeps the floor.
        var restarted = PaxosReplica.Restart(new ReplicaOptions { ReplicaId = 3, InitialConfig = c[1].Config, Window = Window },
            new PersistentState(hard, null, []));
        Assert.Equal(floor, restarted.VoteFloor);
        // And a host that keeps the view as a slot-0 snapshot finds it there even before any hard state carried it.
        var fromView = PaxosReplica.Restart(new ReplicaOptions { ReplicaId = 3, InitialConfig = c[1].Config, Window = Window },
            new PersistentState(PersistentState.Empty.HardState, new Snapshot(0, c[1].Configs, SessionTable.Empty, []), []));
        Assert.Equal(floor, fromView.VoteFloor);
    }
    /// <summary>
    /// A host that knows no earlier replica of the group ever ran under this id (its silo never dropped one) stores the
    /// view without a floor (<see cref="PersistentState.ViewSetsVoteFloor"/>). Such a replica, started from a view whose
    /// newest configuration no longer names it, still votes in an older configuration that names it and is in force
    /// above the candidates' commit index: a group whose move had added it and then left it again, with another member
    /// of that configuration gone for good, needed its vote (a rolling replacement under load stalled so in session 33).
    /// </summary>
    [Fact]
    public void A_replica_that_never_voted_here_before_takes_no_floor_from_a_view_that_no_longer_names_it()
    {
        var view = ConfigHistory.FromEpochs([(1, new ClusterConfig([1, 2, 3])), (10, new ClusterConfig([1, 2, 3, 4])), (20, new ClusterConfig([1, 2]))]);
        var options = new ReplicaOptions { ReplicaId = 4, InitialConfig = new ClusterConfig([1, 2, 3]) };
        var empty = new PersistentState(new HardState(Ballot.Zero, 0), new Snapshot(0, view, SessionTable.Empty, []), []);

        var dropped = PaxosReplica.Restart(options, empty);
        Assert.Equal(21, dropped.VoteFloor); // not a member of the newest configuration: no vote up to it
        dropped.Start();
        Assert.DoesNotContain(dropped.Step(new Prepare(1, 4, new Ballot(5, 1), 12)).Messages, m => m is Promise);

        var first = PaxosReplica.Restart(options, empty with { ViewSetsVoteFloor = false });
        Assert.Equal(0, first.VoteFloor);
        first.Start();
        Assert.Contains(first.Step(new Prepare(1, 4, new Ballot(5, 1), 12)).Messages, m => m is Promise { From: 4, To: 1 });

        // A host that builds the replica from the view in its options says the same there.
        var viewOptions = options.Clone();
        viewOptions.InitialConfigs = view;
        Assert.Equal(21, new PaxosReplica(viewOptions).VoteFloor);
        viewOptions.ViewSetsVoteFloor = false;
        Assert.Equal(0, new PaxosReplica(viewOptions).VoteFloor);
    }

    /// <summary>
    /// Genesis {1,2,3} led by r1. r3 hears nothing while the group removes it ({1,2,4}) and adds it back ({1,2,3});
    /// then r2 is cut off and r3 heard again, but only the leader's accepts reach it and only its acknowledgements
    /// leave it (it learns no configuration: its silo's drop, decided from a peer's word before the add-back, still
    /// holds). r1 and the old r3 choose "w" in a slot of the configuration that added r3 back; r3's silo then drops
    /// that replica and starts a new one from r1's view; r1 is cut off and r2 heard again. Returns the cluster, the
    /// slot of "w" and what the old r3 left.
    /// </summary>
    private static (Cluster Cluster, long SlotOfW, FormerReplica Former) GroupThatDropsR3AfterItVotedAgain(PlantedBug bugs = PlantedBug.None)
    {
        var c = new Cluster(3, o => { o.Window = Window; o.MaxBatchCommands = 1; });
        c.Elect(1);
        c.Isolate(3);
        c.AddNode(4);
        Reconfigure(c, new ClusterConfig([1, 2, 4]), "a");
        Reconfigure(c, new ClusterConfig([1, 2, 3]), "b");
        long addedBackFrom = c[1].Configs.LatestFromSlot;
        c.Heal();
        c.Isolate(2);
        c.Isolate(4);
        c.Drop(m => (m.To == 3 && m is not Accept) || (m.From == 3 && m is not Accepted));
        c.Propose(1, "w");
        Run(c);
        long slotOfW = c[1].Entries.Single(e => e.Value.Commands.Any(x => Encoding.UTF8.GetString(x.Payload) == "w")).Slot;
        Assert.True(slotOfW >= addedBackFrom, $"w in slot {slotOfW}, before {{1,2,3}} is in force again from {addedBackFrom}");
        Assert.True(c[1].CommitIndex >= slotOfW, $"w not chosen: {c[1]}");
        Assert.Contains(c[3].Entries, e => e.Slot == slotOfW); // the old r3's vote helped choose it
        Assert.DoesNotContain(new ClusterConfig([1, 2, 4]), c[3].Configs.Epochs.Select(e => e.Config)); // it learned no configuration
        // What a host's drop check looks for since session 35 (it keeps such a replica): a vote from the add-back on,
        // above the commit index, under another replica's ballot; the leader's own entries are no such vote.
        Assert.True(c[3].HoldsVoteFrom(addedBackFrom));
        Assert.False(c[3].HoldsVoteFrom(c[3].HighestSlotHeld + 1));
        Assert.False(c[1].HoldsVoteFrom(addedBackFrom));

        var former = FormerReplica.Of(c[3]);
        var view = c[1].Configs;
        c.Crash(3);
        c.Nodes.Remove(3);
        c.StartOver(3, view, former, bugs);
        c.Heal();
        c.Isolate(1);
        c.Isolate(4);
        return (c, slotOfW, former);
    }

    [Fact]
    public void A_member_dropped_after_it_voted_in_the_configuration_that_added_it_back_keeps_those_votes_out_of_reach()
    {
        var (c, slotOfW, former) = GroupThatDropsR3AfterItVotedAgain();
        Assert.Equal(former.Promised, c[3].Promised);
        Assert.True(c[3].VoteFloor > slotOfW, $"floor {c[3].VoteFloor} at or below the slot the old replica voted in ({slotOfW})");
        Assert.True(c[2].CommitIndex < slotOfW && c[2].CommitIndex + 1 >= c[3].Configs.MemberSince(3), "r2 must be past the view's floor and short of w");

        c.Campaign(2);
        Run(c);
        Assert.False(c[2].IsLeader, $"r2 led with the new r3's promise: {c[2]}");
        c.Propose(2, "x");
        Run(c);
        Assert.Null(ChosenAt(c, 2, slotOfW));
        Assert.Null(ChosenAt(c, 3, slotOfW));

        // Once r1 is heard again the group goes on, with one value for w's slot everywhere.
        c.Heal();
        c.Isolate(4);
        for (int i = 0; i < 3 && !c.Nodes.Values.Any(n => n.IsUp && n.R.IsLeader && n.Id != 4); i++)
        {
            c.Campaign(1);
            Run(c);
        }
        var leader = c.Nodes.Values.First(n => n.IsUp && n.R.IsLeader && n.Id != 4).Id;
        c.Propose(leader, "after");
        Run(c);
        Run(c);
        Assert.Equal(ChosenAt(c, 1, slotOfW), ChosenAt(c, 2, slotOfW));
        Assert.Equal(ChosenAt(c, 1, slotOfW), ChosenAt(c, 3, slotOfW));
        Assert.Contains("after", c.StateOf(1));
        Assert.Equal(c.StateOf(1), c.StateOf(3));
    }

    [Fact]
    public void Without_its_former_votes_the_new_replica_lets_a_candidate_that_missed_the_slot_choose_a_second_value()
    {
        var (c, slotOfW, _) = GroupThatDropsR3AfterItVotedAgain(PlantedBug.ForgetFormerVotes);
        c.Campaign(2);
        Run(c);
        Assert.True(c[2].IsLeader, $"r2 should lead with the forgetful r3: {c[2]}");
        c.Propose(2, "x");
        Run(c);
        var first = ChosenAt(c, 1, slotOfW);
        var second = ChosenAt(c, 2, slotOfW);
        Assert.NotNull(first);
        Assert.NotNull(second);
        Assert.NotEqual(first, second); // the planted bug breaks safety: the former votes are what prevent it
    }

    [Fact]
    public void What_a_dropped_replica_leaves_is_its_promise_and_the_highest_slot_it_held()
    {
        var log = new List<LogEntry> { new(4, new Ballot(2, 1), LogValue.Noop, false), new(9, new Ballot(3, 2), LogValue.Noop, false) };
        var state = new PersistentState(new HardState(new Ballot(5, 2), 3), new Snapshot(2, ConfigHistory.Start(new ClusterConfig([1, 2, 3])), SessionTable.Empty, []), log);
        Assert.Equal(new FormerReplica(new Ballot(5, 2), 9), FormerReplica.Of(state));
        Assert.Equal(new FormerReplica(new Ballot(5, 2), 3), FormerReplica.Of(state with { Entries = [] }));
        Assert.Equal(new FormerReplica(new Ballot(6, 1), 9), new FormerReplica(new Ballot(6, 1), 2).Max(new FormerReplica(new Ballot(5, 2), 9)));
        Assert.Equal(new HardState(new Ballot(5, 2), 0, 10), new FormerReplica(new Ballot(5, 2), 9).SuccessorHardState);

        var options = new ReplicaOptions { ReplicaId = 3, InitialConfig = new ClusterConfig([1, 2, 3]), InitialConfigs = ConfigHistory.Start(new ClusterConfig([1, 2, 3])) };
        var successor = PaxosReplica.StartOver(options, new FormerReplica(new Ballot(5, 2), 9));
        Assert.Equal(new Ballot(5, 2), successor.Promised);
        Assert.Equal(10, successor.VoteFloor);
        Assert.Equal(0, PaxosReplica.StartOver(options, FormerReplica.None).VoteFloor);

        // A successor dropped in turn before it held anything passes the mark on: the votes behind its floor are still
        // out there, and the replica after it must stay above them too.
        Assert.Equal(new FormerReplica(new Ballot(5, 2), 9), FormerReplica.Of(successor));
        Assert.Equal(new FormerReplica(new Ballot(5, 2), 9), FormerReplica.Of(new PersistentState(new HardState(successor.Promised, successor.CommitIndex, successor.VoteFloor), null, [])));
    }
}

using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// When a member that a move removed may drop its replica (<see cref="PeerView.RemovalIsDurable"/>), with real engine
/// replicas. The slots before the removing configuration comes into force are still governed by the configuration
/// with the removed member; a replica whose commit index is below them needs a quorum of that configuration to lead.
/// Session 10's engine seed 358: the removed member dropped its replica once the leader had the removal in force, the
/// leader's silo stopped for good, and the two members that stayed held the window's last slot accepted with a commit
/// index one below it: three of the four old members were needed, two were left, and the group never elected a
/// leader again. The removed member now waits until a majority of the new configuration holds that commit on disk.
/// </summary>
public class RemovedMemberTests
{
    private const long Leader = 1, Stays = 2, AlsoStays = 3, Removed = 4;
    private static readonly ClusterConfig Before = new([Leader, Stays, AlsoStays, Removed]);
    private static readonly ClusterConfig After = new([Leader, Stays, AlsoStays]);

    [Fact]
    public async Task A_removed_member_keeps_its_replica_while_the_members_that_stay_lack_the_removal_on_disk_so_the_group_outlives_its_leader()
    {
        var bench = await LedBenchAsync();

        // The removal is chosen and comes into force at the leader; the members that stay get its accepts one message
        // at a time, and nothing the leader sends once it has the removal in force (the commit index of the window's
        // last slot) reaches them: its silo stops for good right then.
        bench.Held.UnionWith([Stays, AlsoStays]);
        Replica(bench, Leader).Post(core => core.ProposeConfig(After));
        await bench.SettleAsync();
        for (int released = 0; !await InForceAsync(bench, Leader); released++)
        {
            Assert.True(released < 1_000, "the removal did not come into force at the leader");
            long to = released % 2 == 0 ? Stays : AlsoStays;
            if (!await bench.ReleaseAsync(to)) Assert.True(await bench.ReleaseAsync(Stays + AlsoStays - to), "nothing left to deliver");
        }
        var leader = await bench.StatusAsync(Leader);
        long lastOfWindow = leader.LatestFromSlot - 1;
        Assert.True((await bench.StatusAsync(Stays)).CommitIndex < lastOfWindow);

        // The rule the removed member's silo applies, with what its peers answer: the leader says the group left it,
        // but the members that stay do not hold the window's last slot's commit on disk, so it keeps its replica.
        var members = await StatusesAsync(bench, After);
        var mine = await bench.StatusAsync(Removed);
        Assert.True(PeerView.SaysGroupLeft(leader, mine, Removed));
        Assert.False(PeerView.RemovalIsDurable(leader, members, Removed),
            $"slot {lastOfWindow} on disk: {string.Join(", ", members.Select(m => $"{m.Key}: {m.Value.DurableCommitIndex}"))}");
        await ForgetIfAllowedAsync(bench, leader, members, Removed);
        Assert.NotNull(bench.Replica(Removed));

        // The leader's silo stops for good; the members that stay leave memory and come back from their logs. One of
        // them campaigns: the window's last slots need three of the four old members, the removed one among them.
        bench.StopForGood(Leader);
        bench.Held.Clear();
        bench.Drop(Stays);
        bench.Drop(AlsoStays);
        bench.Rebuild(Stays);
        bench.Rebuild(AlsoStays);
        Assert.True(await bench.CampaignAsync(Stays), $"no leader: {await bench.AskAsync(Stays, g => g.AskAsync(core => (core.ToString(), new Ready())))}");

        // The new leader finished the window and told the others (its commit flush: no append); now the removed member
        // may go, and the two members left elect a leader from their logs alone.
        var witness = await bench.StatusAsync(Stays);
        members = await StatusesAsync(bench, After);
        Assert.True(PeerView.RemovalIsDurable(witness, members, Removed),
            $"slot {lastOfWindow} on disk: {string.Join(", ", members.Select(m => $"{m.Key}: {m.Value.DurableCommitIndex}"))}");
        await ForgetIfAllowedAsync(bench, witness, members, Removed);
        Assert.Null(bench.Replica(Removed));
        bench.Rebuild(Stays);
        bench.Rebuild(AlsoStays);
        Assert.True(await bench.CampaignAsync(AlsoStays));
    }

    [Fact]
    public async Task Members_write_a_commit_index_that_brings_a_configuration_into_force_at_once_so_an_idle_group_lets_the_removed_member_go()
    {
        var bench = await LedBenchAsync();
        Assert.True(await bench.ChangeConfigAsync(Leader, After));
        await bench.SettleAsync(); // the leader's commit flush: a heartbeat, no append (the group is idle from here on)
        long lastOfWindow = (await bench.StatusAsync(Leader)).LatestFromSlot - 1;

        // Before session 11 a follower wrote a commit index only with its next append, which an idle group never
        // makes: the removed member would wait for ever, and a follower rebuilt from its log forgot the commit index.
        bench.Rebuild(Stays);
        bench.Rebuild(AlsoStays);
        var members = await StatusesAsync(bench, After);
        Assert.All(members.Values, s => Assert.True(s.DurableCommitIndex >= lastOfWindow, $"slot {lastOfWindow}: {s.DurableCommitIndex} on disk"));
        var leader = await bench.StatusAsync(Leader);
        Assert.True(PeerView.SaysGroupLeft(leader, await bench.StatusAsync(Removed), Removed));
        Assert.True(PeerView.RemovalIsDurable(leader, members, Removed));
        await ForgetIfAllowedAsync(bench, leader, members, Removed);
        Assert.Null(bench.Replica(Removed));

        // The group outlives its leader without the removed member.
        bench.StopForGood(Leader);
        Assert.True(await bench.CampaignAsync(Stays));
    }

    [Fact]
    public void The_removing_configuration_is_the_first_one_after_the_last_that_names_the_member()
    {
        // 4 left, came back, and left again: the second removal counts, and its window (slot 30) must be on disk.
        var status = new GroupStatus([1, 2, 3], [1, 2, 3], Leader: true, HasActivation: false, CommitIndex: 40, LatestFromSlot: 31,
            Epochs: [new(1, [1, 2, 4]), new(9, [1, 2]), new(17, [1, 2, 4]), new(25, [1, 2, 3, 4]), new(31, [1, 2, 3])]);
        Assert.Equal(31, PeerView.RemovalOf(status, 4)!.FromSlot);
        Assert.Null(PeerView.RemovalOf(status, 3));
        GroupStatus Holding(long commit) => status with { Leader = false, DurableCommitIndex = commit };
        Assert.False(PeerView.RemovalIsDurable(status, new Dictionary<long, GroupStatus> { [1] = Holding(30), [2] = Holding(29), [3] = Holding(29) }, 4));
        Assert.True(PeerView.RemovalIsDurable(status, new Dictionary<long, GroupStatus> { [1] = Holding(30), [3] = Holding(30) }, 4));
        // The removed member's own disk does not count.
        Assert.False(PeerView.RemovalIsDurable(status, new Dictionary<long, GroupStatus> { [1] = Holding(30), [4] = Holding(30) }, 4));

        // A history that no longer names the member (trimmed at a snapshot, or an older peer's newest configuration
        // alone): its first configuration stands in, with the slot it is in force from.
        var trimmed = status with { Epochs = [new(31, [1, 2, 3])] };
        Assert.Equal(31, PeerView.RemovalOf(trimmed, 4)!.FromSlot);
        Assert.Equal(31, PeerView.RemovalOf(status with { Epochs = null }, 4)!.FromSlot);
    }

    [Fact]
    public void A_later_configurations_window_on_disk_lets_the_removed_member_go_when_the_removing_one_has_left_too()
    {
        // {1,2,4}: 4 was removed for {1,2,3} (in force from slot 9), then the group moved on to {1,3,5} (from 17) and 2
        // dropped its replica. Before session 23 only a majority of {1,2,3} counted, and with 2 gone for good 4 kept its
        // replica for ever; a majority of {1,3,5} holding slot 16 on disk is enough.
        var witness = new GroupStatus([1, 3, 5], [1, 3, 5], Leader: true, HasActivation: false, CommitIndex: 20, LatestFromSlot: 17,
            Epochs: [new(1, [1, 2, 4]), new(9, [1, 2, 3]), new(17, [1, 3, 5])]);
        GroupStatus Holding(long commit) => witness with { Leader = false, DurableCommitIndex = commit };
        Assert.Equal(9, PeerView.RemovalOf(witness, 4)!.FromSlot);
        Assert.Equal([9, 17], PeerView.SinceRemovalOf(witness, 4).Select(e => e.FromSlot));
        Assert.True(PeerView.RemovalIsDurable(witness, new Dictionary<long, GroupStatus> { [1] = Holding(20), [5] = Holding(16) }, 4));
        // Neither window on disk at a majority: {1,3,5} has one member at slot 16, {1,2,3} one at slot 8.
        Assert.False(PeerView.RemovalIsDurable(witness, new Dictionary<long, GroupStatus> { [1] = Holding(20), [5] = Holding(15) }, 4));
        // The removing configuration alone still does, as before.
        Assert.True(PeerView.RemovalIsDurable(witness, new Dictionary<long, GroupStatus> { [1] = Holding(8), [3] = Holding(8) }, 4));
    }

    /// <summary>
    /// The rebalancer decides to drop a removed member's replica from a status taken seconds before the drop. Session
    /// 23 traced a rolling replacement where the group added that member back meanwhile (the roster changed again); the
    /// member caught up, its votes counted, and then its silo dropped it on the old decision: the group was left with
    /// one live member of three. The drop is now checked in the replica's own step against what the decision saw.
    /// </summary>
    [Fact]
    public async Task A_member_added_back_after_its_silo_decided_to_drop_it_keeps_its_replica()
    {
        var (bench, decidedOn, _) = await RemovedAsync();
        Assert.DoesNotContain(Removed, decidedOn.Latest);

        // Added back before its silo acts on the decision: the check refuses, and the replica keeps voting.
        Assert.True(await bench.ChangeConfigAsync(Leader, Before));
        await bench.SettleAsync();
        Assert.Null(await bench.AskAsync(Removed, g => g.RetireIfAsync(core => PeerView.StillLeft(core, decidedOn, long.MaxValue))));
        Assert.False(bench.Replica(Removed)!.Failed);
        await bench.ProposeAsync(Leader, 1);

        // Removed again, and nothing newer since the decision: the same check stops it in its own step.
        Assert.True(await bench.ChangeConfigAsync(Leader, After));
        await bench.SettleAsync();
        decidedOn = await bench.StatusAsync(Removed);
        long removedFrom = PeerView.RemovedFrom(await bench.StatusAsync(Leader), Removed);
        Assert.NotNull(await bench.AskAsync(Removed, g => g.RetireIfAsync(core => PeerView.StillLeft(core, decidedOn, removedFrom))));
        Assert.True(bench.Replica(Removed)!.Failed);
    }

    /// <summary>
    /// The same decision, but the member added back votes before it has caught up to the configuration that added it
    /// (it missed that slot, so it learns no configuration from the accepts that follow). Session 35's engine seeds 106
    /// and 153: its silo dropped it then, the replica started next kept clear of those votes (its vote floor), and once
    /// the leader's silo stopped for good no candidate of the four-member group could gather a majority for those slots
    /// again. The drop is refused once the replica voted from the removal's first slot on after the decision.
    /// </summary>
    [Fact]
    public async Task A_member_added_back_that_voted_before_it_learned_so_keeps_its_replica()
    {
        var (bench, decidedOn, removedFrom) = await VotedAfterAddBackAsync();
        Assert.Null(await bench.AskAsync(Removed, g => g.RetireIfAsync(core => PeerView.StillLeft(core, decidedOn, removedFrom))));
        Assert.False(bench.Replica(Removed)!.Failed);
        // Delivered, the held catch-up makes it a member again that knows so.
        while (await bench.ReleaseAsync(Removed)) { }
        bench.Held.Clear();
        await bench.ProposeAsync(Leader, 1);
        Assert.Contains(Removed, (await bench.StatusAsync(Removed)).Latest);
    }

    /// <summary>
    /// The same member, but its replica fails before its silo acts on the decision (a failed fsync): it can no longer
    /// be asked, so the check runs on what its log holds, where every vote it sent was persisted first. Until session
    /// 36 such a replica was dropped without the check, and its vote given up as above.
    /// </summary>
    [Fact]
    public async Task A_failed_member_added_back_that_voted_keeps_its_records()
    {
        var (bench, decidedOn, removedFrom) = await VotedAfterAddBackAsync();
        Assert.Null(bench.FailThenRetire(Removed, core => PeerView.StillLeft(core, decidedOn, removedFrom)));
        // Without the vote condition (the check before session 35) the same log is dropped: the refusal is the vote's.
        Assert.NotNull(bench.FailThenRetire(Removed, core => PeerView.StillLeft(core, decidedOn, long.MaxValue)));
    }

    /// <summary>A failed replica that only left its group is dropped on its log's word, with the note of what it held.</summary>
    [Fact]
    public async Task A_failed_member_that_only_left_is_dropped_with_what_it_held()
    {
        var (bench, decidedOn, removedFrom) = await RemovedAsync();
        var left = bench.FailThenRetire(Removed, core => PeerView.StillLeft(core, decidedOn, removedFrom));
        Assert.NotNull(left);
        Assert.Equal(decidedOn.LatestFromSlot, left.Value.LatestFromSlot);
        Assert.Equal(decidedOn.HighestSlotHeld, left.Value.Former.HeldThrough);
        Assert.True(bench.Replica(Removed)!.Failed);
    }

    /// <summary>
    /// A member removed, then added back while nothing reached it, that voted for the next command before it learned
    /// the configuration that added it (its catch-up stays held); with the status its silo's decision to drop it was
    /// made from, and the first slot of its removal.
    /// </summary>
    private static async Task<(GroupBench Bench, GroupStatus DecidedOn, long RemovedFrom)> VotedAfterAddBackAsync()
    {
        var (bench, decidedOn, removedFrom) = await RemovedAsync();

        // Added back while nothing reaches it, and what was sent to it meanwhile is lost: then a command is chosen, and
        // its accept reaches the member, which answers it (its catch-up request's answer stays held).
        bench.Held.Add(Removed);
        Assert.True(await bench.ChangeConfigAsync(Leader, Before));
        bench.Drop(Removed);
        await bench.ProposeAsync(Leader, 1);
        while (!await HoldsVoteAsync(bench, removedFrom)) Assert.True(await bench.ReleaseAsync(Removed), "the member got no accept");
        var stillLeft = await bench.AskAsync(Removed, g => g.AskAsync(core => (PeerView.StillLeft(core, decidedOn, long.MaxValue), new Ready())));
        Assert.True(stillLeft, "it should not have learned the configuration that added it back (the check's first half passes)");
        return (bench, decidedOn, removedFrom);
    }

    /// <summary>
    /// <see cref="LedBenchAsync"/> with <see cref="Removed"/> removed (<see cref="After"/> in force): the status its
    /// silo's decision to drop it is made from, and the first slot of its removal per the leader.
    /// </summary>
    private static async Task<(GroupBench Bench, GroupStatus DecidedOn, long RemovedFrom)> RemovedAsync()
    {
        var bench = await LedBenchAsync();
        Assert.True(await bench.ChangeConfigAsync(Leader, After));
        await bench.SettleAsync();
        var decidedOn = await bench.StatusAsync(Removed);
        long removedFrom = PeerView.RemovedFrom(await bench.StatusAsync(Leader), Removed);
        Assert.True(removedFrom < long.MaxValue);
        return (bench, decidedOn, removedFrom);
    }

    private static Task<bool> HoldsVoteAsync(GroupBench bench, long from) =>
        bench.AskAsync(Removed, g => g.AskAsync(core => (core.HoldsVoteFrom(from), new Ready())));

    /// <summary>
    /// A member removed while nothing of the removal reached it (a leader sends its accepts to a majority, and the
    /// members that stay are one) still names itself in its newest configuration; its peers say the group left it.
    /// Session 24 traced a silo whose rebalancer refused that drop on every pass (the check wanted the replica's own
    /// newest configuration not to name it) and so never settled.
    /// </summary>
    [Fact]
    public async Task A_member_that_never_heard_of_its_removal_is_dropped_on_its_peers_word()
    {
        var bench = await LedBenchAsync();
        bench.Held.Add(Removed);
        Assert.True(await bench.ChangeConfigAsync(Leader, After));
        await bench.SettleAsync();
        bench.Drop(Removed);
        bench.Held.Clear();

        var decidedOn = await bench.StatusAsync(Removed);
        Assert.Contains(Removed, decidedOn.Latest);
        var witness = await bench.StatusAsync(Leader);
        Assert.True(PeerView.SaysGroupLeft(witness, decidedOn, Removed));
        Assert.NotNull(await bench.AskAsync(Removed, g => g.RetireIfAsync(core => PeerView.StillLeft(core, decidedOn, PeerView.RemovedFrom(witness, Removed)))));
        Assert.True(bench.Replica(Removed)!.Failed);
    }

    /// <summary>The four members of <see cref="Before"/>, <see cref="Leader"/> leading, three commands chosen.</summary>
    private static async Task<GroupBench> LedBenchAsync()
    {
        var bench = new GroupBench([Leader, Stays, AlsoStays, Removed], Before);
        Assert.True(await bench.CampaignAsync(Leader));
        await bench.ProposeAsync(Leader, 3);
        return bench;
    }

    private static GroupReplica Replica(GroupBench bench, long id) => bench.Replica(id) ?? throw new InvalidOperationException($"silo {id} holds no replica");

    private static async Task<bool> InForceAsync(GroupBench bench, long id)
    {
        var status = await bench.StatusAsync(id);
        return new ClusterConfig(status.InForce).Equals(After);
    }

    private static async Task<Dictionary<long, GroupStatus>> StatusesAsync(GroupBench bench, ClusterConfig config)
    {
        var statuses = new Dictionary<long, GroupStatus>();
        foreach (long member in config.Members)
        {
            if (bench.Replica(member) is not null) statuses[member] = await bench.StatusAsync(member);
        }
        return statuses;
    }

    /// <summary>What the removed member's silo does on its peers' answers (<c>Rebalancer</c>): drop the replica once the rule allows.</summary>
    private static async Task ForgetIfAllowedAsync(GroupBench bench, GroupStatus witness, IReadOnlyDictionary<long, GroupStatus> members, long me)
    {
        var mine = await bench.StatusAsync(me);
        if (PeerView.SaysGroupLeft(witness, mine, me) && PeerView.RemovalIsDurable(witness, members, me)) await bench.ForgetAsync(me);
    }
}

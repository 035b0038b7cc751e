using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A replica that lags names configurations its group has left (<see cref="LaggingPeerTests"/>), whose members may
/// have forgotten the group since. A silo that forgot a group starts a new, empty replica at the first message that
/// names it; from a lagging sender's view that replica would be an acceptor without the votes its former replica
/// cast, and a campaign on that view could win a majority of such acceptors. <see cref="ForgottenGroups"/> refuses
/// views no newer than what the forgotten replica knew; without it this test chose a second value for slot 257 in
/// session 9. Since session 10 a replica added back also keeps its sender's newest configuration while it replays
/// (so a silo not in it refuses its view) and campaigns with that configuration's members.
/// </summary>
public class ForgottenReplicaTests
{
    [Fact]
    public async Task A_lagging_replica_campaigning_on_a_configuration_whose_members_forgot_the_group_chooses_nothing_the_group_did_not()
    {
        // 1 leads throughout; 5 leaves first (3 in), then 2 (6 in), then 3 (4 in), each forgetting the group; then 3
        // is added back and replays the log: after the first catch-up answer {1,2,3} is in force at its commit index,
        // the configuration of slots the group chose long ago.
        var bench = new GroupBench([1, 2, 3, 4, 5, 6], new ClusterConfig([1, 2, 5]));
        Assert.True(await bench.CampaignAsync(1));
        await bench.ProposeAsync(1, 3);
        await ChangeAsync(bench, [1, 2, 3, 5], [1, 2, 3]);
        await bench.ForgetAsync(5);
        await bench.ProposeAsync(1, ReplicaOptions.DefaultMaxCatchUpEntries + 40);
        await ChangeAsync(bench, [1, 2, 3, 6], [1, 3, 6]);
        await bench.ForgetAsync(2);
        await ChangeAsync(bench, [1, 3, 4, 6], [1, 4, 6]);
        await bench.ForgetAsync(3);
        bench.Held.Add(3);
        await ChangeAsync(bench, [1, 3, 4, 6]);
        while (bench.Replica(3) is null || (await bench.StatusAsync(3)).CommitIndex == 0) Assert.True(await bench.ReleaseAsync(3));
        var lagging = await bench.StatusAsync(3);
        Assert.Contains(2L, lagging.InForce);
        // Since session 10 it keeps the newest configuration it started from as its newest (AddedReplicaTests), so
        // its view names no forgotten member as current; its campaign also asks that configuration's members.
        Assert.DoesNotContain(2L, lagging.Latest);

        // The leader's silo stops; the grain's next activation starts on 3 (in its replica set) and campaigns.
        bench.Held.Remove(3);
        bench.Drop(3);
        bench.Held.Add(1);
        // It leads with the newest configuration's members (3, 4, 6 of {1,3,4,6}), whose promises carry the log.
        Assert.True(await bench.CampaignAsync(3), "the replica added back should lead the newest configuration");
        Assert.Equal(ProposeResult.Queued, bench.Replica(3)!.Propose(new Command(Guid.NewGuid(), 1, 1, [42])));
        await bench.SettleAsync();

        var chosenOn3 = await ChosenAsync(bench, 3);
        var chosenOn4 = await ChosenAsync(bench, 4);
        foreach (var (slot, value) in chosenOn3)
        {
            if (chosenOn4.TryGetValue(slot, out var real)) Assert.True(real == value, $"slot {slot}: the group chose {real}, the lagging replica {value}");
        }
        Assert.Null(bench.Replica(2)); // silo 2 forgot the group, and 3's view is older than what its replica knew
    }

    [Fact]
    public async Task A_replica_added_back_votes_from_the_first_slot_of_its_new_membership_and_its_log_keeps_that_floor()
    {
        // 3 leaves and forgets the group, then is added back: the message that names the group starts a new replica
        // from the leader's view, whose votes count only from the slot the configuration that added it back is in
        // force from (ReAddedMemberTests in the consensus tests show the second value chosen without that).
        var bench = new GroupBench([1, 2, 3, 4], new ClusterConfig([1, 2, 3]));
        Assert.True(await bench.CampaignAsync(1));
        await bench.ProposeAsync(1, 3);
        await ChangeAsync(bench, [1, 2, 3, 4], [1, 2, 4]);
        var former = await bench.AskAsync(3, g => g.AskAsync(core => (FormerReplica.Of(core), new Ready())));
        await bench.ForgetAsync(3);
        Assert.Equal(former, bench.Forgotten(3).NoteOf(GroupBench.GroupId)?.Former);
        await ChangeAsync(bench, [1, 2, 3, 4]);
        await bench.SettleAsync();
        long addedBackFrom = (await bench.StatusAsync(1)).LatestFromSlot;
        Assert.True(addedBackFrom > 1);
        Assert.True(former.HeldThrough < addedBackFrom, $"the old replica held slot {former.HeldThrough}, past {addedBackFrom}");
        Assert.Equal(addedBackFrom, await VoteFloorAsync(bench, 3));
        // The new replica keeps the old one's promise (a ballot it refused stays refused).
        var promised = await bench.AskAsync(3, g => g.AskAsync(core => (core.Promised, new Ready())));
        Assert.True(promised.CompareTo(former.Promised) >= 0, $"promised {promised}, the dropped replica {former.Promised}");
        Assert.Equal(0, await VoteFloorAsync(bench, 1));
        // A member added once has no earlier votes to lose: its silo never dropped a replica of the group, so the view
        // it started from sets no floor (one would keep it from voting in an older configuration still in force that
        // names it; ReAddedMemberTests).
        Assert.True((await bench.StatusAsync(1)).Epochs!.First(e => e.Members.Contains(4)).FromSlot > 1);
        Assert.Equal(0, await VoteFloorAsync(bench, 4));

        // The leader's snapshot replaces the view 3 started from (its slot-0 record); rebuilt from its log, 3 still
        // knows its floor, from the hard state.
        await bench.ProposeAsync(1, 5);
        await bench.CompactAsync(1);
        Assert.True((await bench.StatusAsync(3)).CommitIndex > addedBackFrom);
        bench.Rebuild(3);
        bench.Rebuild(4);
        await bench.SettleAsync();
        Assert.Equal(addedBackFrom, await VoteFloorAsync(bench, 3));
        Assert.Equal(0, await VoteFloorAsync(bench, 4)); // its view's record says it set no floor; the note is long gone
    }

    private static Task<long> VoteFloorAsync(GroupBench bench, long id) =>
        bench.AskAsync(id, g => g.AskAsync(core => (core.VoteFloor, new Ready())));

    private static async Task ChangeAsync(GroupBench bench, params long[][] configs)
    {
        foreach (var config in configs) Assert.True(await bench.ChangeConfigAsync(1, new ClusterConfig(config)));
    }

    private static Task<Dictionary<long, string>> ChosenAsync(GroupBench bench, long id) =>
        bench.AskAsync(id, g => g.AskAsync(core => (core.Entries.Where(e => e.Chosen || e.Slot <= core.CommitIndex).ToDictionary(e => e.Slot, e => e.Value.ToString()), new Ready())));

    /// <summary>
    /// The race the vote floor alone leaves open: a silo drops its replica on a decision taken before the group added
    /// it back, after that replica voted in the configuration that added it back (it learned no configuration from those
    /// accepts). The note keeps what it promised and held, and the replica the next add-back starts keeps clear of both,
    /// also after a rebuild from its log.
    /// </summary>
    [Fact]
    public async Task A_replica_started_after_a_drop_keeps_the_promise_and_stays_above_the_slots_of_the_dropped_one()
    {
        var bench = new GroupBench([1, 2, 3, 4], new ClusterConfig([1, 2, 3]));
        Assert.True(await bench.CampaignAsync(1));
        await bench.ProposeAsync(1, 3);
        var status = await bench.StatusAsync(3);
        await ChangeAsync(bench, [1, 2, 3, 4], [1, 2, 4]);
        var silo = bench.Forgotten(3);
        // As if the old replica had voted for slot 500 at ballot (9, 1) before its drop (the numbers only need to exceed
        // anything the group reaches here).
        var former = new FormerReplica(new Ballot(9, 1), 500);
        silo.Forgot(GroupBench.GroupId, status.LatestFromSlot, former);
        await bench.ForgetAsync(3);
        Assert.Equal(former, silo.NoteOf(GroupBench.GroupId)?.Former); // a note only ever rises
        await ChangeAsync(bench, [1, 2, 3, 4]);
        await bench.SettleAsync();
        Assert.NotNull(bench.Replica(3));
        Assert.Equal(501, await VoteFloorAsync(bench, 3));
        Assert.Equal(new Ballot(9, 1), await bench.AskAsync(3, g => g.AskAsync(core => (core.Promised, new Ready()))));
        bench.Rebuild(3);
        await bench.SettleAsync();
        Assert.Equal(501, await VoteFloorAsync(bench, 3));
        Assert.Equal(new Ballot(9, 1), await bench.AskAsync(3, g => g.AskAsync(core => (core.Promised, new Ready()))));
    }
}

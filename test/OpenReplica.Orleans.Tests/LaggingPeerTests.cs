using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The rebalancer's rule for forgetting a replica on a peer's word (<see cref="PeerView.SaysGroupLeft"/>), with the
/// statuses real engine replicas report in the situation of the full-size rolling replacement (docs/placement.md,
/// "Session 8", point 3): a group moved off a silo, moved on, and added that silo back; the silo's new replica, still
/// catching up, reports a configuration from before the member that replaced it joined. That member must not forget
/// its replica on this word (it did, and the group lost its majority); a peer that has committed the member's removal
/// must still count.
/// </summary>
public class LaggingPeerTests
{
    // Replica ids as in the trace's group: the leader (1) and a member that stays (2); 5 leaves first, 3 replaces it,
    // 4 replaces 3, then 3 is added back.
    private const long Leader = 1, Stays = 2, Readded = 3, Replacer = 4, First = 5;

    [Theory]
    [InlineData(false)] // the leader has no snapshot: the new replica replays the log from slot 1 (the trace's case)
    [InlineData(true)]  // the leader has compacted: the new replica installs its snapshot, then replays after it
    public async Task A_replica_created_for_a_member_added_back_keeps_the_newest_configuration_while_it_catches_up_and_its_word_does_not_make_a_member_forget(bool snapshot)
    {
        var bench = new GroupBench([Leader, Stays, Readded, Replacer, First], new ClusterConfig([Leader, Stays, First]));
        Assert.True(await bench.CampaignAsync(Leader));
        await bench.ProposeAsync(Leader, 3);

        // First move: 5 out, 3 in. Then the group's history: more slots than one catch-up answer carries
        // (ReplicaOptions.DefaultMaxCatchUpEntries), or a snapshot taken here.
        await MoveAsync(bench, First, Readded);
        if (snapshot)
        {
            await bench.ProposeAsync(Leader, 10);
            await bench.CompactAsync(Leader);
        }
        else
        {
            await bench.ProposeAsync(Leader, ReplicaOptions.DefaultMaxCatchUpEntries + 20);
        }

        // Second move: 3 out, 4 in; silo 3 forgets its replica. Then the roster changes again and 3 is added back.
        await MoveAsync(bench, Readded, Replacer);
        Assert.Null(bench.Replica(Readded));
        bench.Held.Add(Readded);
        Assert.True(await bench.ChangeConfigAsync(Leader, new ClusterConfig([Leader, Stays, Readded, Replacer])));

        // Silo 3 starts a new replica at the first message, from the leader's newest configuration (with 4), then
        // catches up: deliver its messages one at a time until it has committed something.
        int delivered = 0;
        while (bench.Replica(Readded) is null || (await bench.StatusAsync(Readded)).CommitIndex == 0)
        {
            Assert.True(await bench.ReleaseAsync(Readded), $"the re-added replica committed nothing after {delivered} messages");
            delivered++;
        }
        var lagging = await bench.StatusAsync(Readded);
        var replacer = await bench.StatusAsync(Replacer);

        // What it applied so far (the log's first entries, or the snapshot) is in force from before 4 joined. Until
        // session 10 each configuration it replayed became its newest, so it "knew an older configuration" (session 9's
        // trace); now it starts from the leader's whole history and inserts what it replays before the newest one.
        Assert.DoesNotContain(Replacer, lagging.InForce);
        Assert.Contains(Replacer, lagging.Latest);
        Assert.Equal(replacer.LatestFromSlot, lagging.LatestFromSlot);
        Assert.Contains(Replacer, replacer.Latest);
        Assert.True(lagging.CommitIndex < replacer.LatestFromSlot - 1,
            $"the lagging replica committed {lagging.CommitIndex}; 4's newest configuration is in force from {replacer.LatestFromSlot}");
        Assert.False(PeerView.SaysGroupLeft(lagging, replacer, Replacer),
            $"4 would forget its replica on the word of a peer at commit {lagging.CommitIndex} that knows {{{string.Join(",", lagging.Latest)}}}");

        // Once caught up, the re-added replica knows 4 again.
        bench.Held.Remove(Readded);
        while (await bench.ReleaseAsync(Readded))
        {
        }
        await bench.SettleAsync();
        var caughtUp = await bench.StatusAsync(Readded);
        Assert.Contains(Replacer, caughtUp.Latest);
        Assert.False(PeerView.SaysGroupLeft(caughtUp, replacer, Replacer));

        // The rule still lets a member learn that the group left it: 4 hears nothing while the group removes it, and a
        // member that committed the removal says so.
        bench.Held.Add(Replacer);
        Assert.True(await bench.ChangeConfigAsync(Leader, new ClusterConfig([Leader, Stays, Readded])));
        var stays = await bench.StatusAsync(Stays);
        var unaware = await bench.StatusAsync(Replacer);
        Assert.Contains(Replacer, unaware.Latest);
        Assert.True(PeerView.SaysGroupLeft(stays, unaware, Replacer),
            $"a member at commit {stays.CommitIndex} knowing {{{string.Join(",", stays.Latest)}}} did not count; 4's newest configuration is in force from {unaware.LatestFromSlot}");
    }

    [Fact]
    public async Task Only_a_leader_forgets_its_replica_on_its_own_view()
    {
        // Session 10, traced in a rolling replacement before the core kept a new replica's newest configuration: a new
        // member's replica, replaying the log, showed the configuration from before it was added, and its silo dropped
        // it on that view while the move that added it waited for its catch-up. A replica started without the history
        // (from a peer of an older version) can still show one; a follower's view alone never suffices.
        var replaying = new GroupStatus([Leader, Stays, Readded], [Leader, Stays, Readded], Leader: false, HasActivation: false, CommitIndex: 40, LatestFromSlot: 12);
        Assert.False(PeerView.OwnViewSaysGroupLeft(replaying, Replacer));

        // The leader that removed itself (it drove the move; it holds every chosen entry) may: real engine replicas.
        var bench = new GroupBench([Leader, Stays, Readded, Replacer, First], new ClusterConfig([Leader, Stays, First]));
        Assert.True(await bench.CampaignAsync(Leader));
        await bench.ProposeAsync(Leader, 3);
        await MoveAsync(bench, First, Readded);
        Assert.True(await bench.ChangeConfigAsync(Leader, new ClusterConfig([Leader, Stays, Readded, Replacer])));
        Assert.True(await bench.ChangeConfigAsync(Leader, new ClusterConfig([Stays, Readded, Replacer])));
        var leaderAfter = await bench.StatusAsync(Leader);
        Assert.True(PeerView.OwnViewSaysGroupLeft(leaderAfter, Leader),
            $"the leader that removed itself: latest {{{string.Join(",", leaderAfter.Latest)}}}, in force {{{string.Join(",", leaderAfter.InForce)}}}, leader {leaderAfter.Leader}");
        Assert.False(PeerView.OwnViewSaysGroupLeft(await bench.StatusAsync(Stays), Stays));
    }

    /// <summary>One move as the rebalancer makes it: add the new member, let it catch up, remove the old one, which forgets its replica.</summary>
    private static async Task MoveAsync(GroupBench bench, long from, long to)
    {
        var latest = (await bench.StatusAsync(Leader)).Latest;
        var added = new ClusterConfig(latest.Append(to));
        Assert.True(await bench.ChangeConfigAsync(Leader, added), $"{added} did not come into force");
        var removed = added.Without(from);
        Assert.True(await bench.ChangeConfigAsync(Leader, removed), $"{removed} did not come into force");
        Assert.Equal((await bench.StatusAsync(Leader)).CommitIndex, (await bench.StatusAsync(to)).CommitIndex);
        await bench.ForgetAsync(from);
    }
}

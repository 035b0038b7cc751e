using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

public class CatchUpTests
{
    [Fact]
    public void A_replica_that_missed_slots_learns_them_by_catch_up()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Isolate(3);
        c.Propose(1, "a");
        c.Propose(1, "b");
        c.Propose(1, "c");
        c.DeliverAll();
        Assert.Equal(3, c[1].CommitIndex);
        Assert.Equal(0, c[3].CommitIndex);

        c.Heal();
        c.Tick(1, 2); // a heartbeat tells r3 the commit index
        c.DeliverAll();

        var request = Assert.Single(c.Delivered.OfType<CatchUpRequest>());
        Assert.Equal((3L, 1L, 1L, 3L), (request.From, request.To, request.FromSlot, request.ToSlot));
        var response = Assert.Single(c.Delivered.OfType<CatchUpResponse>());
        Assert.Equal([1L, 2L, 3L], response.Entries.Select(e => e.Slot));
        Assert.All(response.Entries, e => Assert.True(e.Chosen));
        Assert.Equal(["a", "b", "c"], c.StateOf(3));
        Assert.Equal(3, c[3].CommitIndex);
    }

    [Fact]
    public void A_member_back_after_a_crash_is_told_the_commit_index_of_an_idle_group_and_catches_up()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Crash(3);
        c.Propose(1, "a");
        c.Propose(1, "b");
        c.DeliverAll();
        c.Handle(1, c[1].FlushCommit()); // the group goes idle: its last commit flush went to the crashed member
        c.DeliverAll();
        c.Restart(3);
        c.DeliverAll();
        Assert.Equal(0, c[3].CommitIndex); // nothing more comes from an idle leader

        var told = c.Handle(1, c[1].AnnounceCommitTo(3));
        var beat = Assert.Single(told.Messages);
        Assert.Equal((1L, 3L, 2L, 0L), (beat.From, beat.To, ((Heartbeat)beat).CommitIndex, ((Heartbeat)beat).ReadContext));
        c.DeliverAll();
        Assert.Equal(2, c[3].CommitIndex);
        Assert.Equal(["a", "b"], c.StateOf(3));

        // Nobody else is told, a non-member is not, and a follower announces nothing.
        Assert.Empty(c.Handle(1, c[1].AnnounceCommitTo(4)).Messages);
        Assert.Empty(c.Handle(2, c[2].AnnounceCommitTo(3)).Messages);
    }

    [Fact]
    public void Catch_up_is_paged_by_max_catch_up_entries_and_retried_after_a_loss()
    {
        var c = new Cluster(3, o => { o.MaxCatchUpEntries = 2; o.MaxBatchCommands = 1; o.Window = 8; });
        c.Elect(1);
        c.Isolate(3);
        c.Propose(1, "a", "b", "c", "d", "e");
        c.DeliverAll();
        c.Heal();

        c.Tick(1, 2);
        c.DeliverQueued(m => m is Heartbeat { To: 3 });
        // The first request is lost; r3 asks again after RetransmitTicks.
        Assert.Equal(1, c.DropQueued(m => m is CatchUpRequest));
        c.Tick(3, 4);
        c.DeliverAll();

        var pages = c.Delivered.OfType<CatchUpResponse>().Where(r => r.To == 3).Select(r => r.Entries.Count).ToList();
        Assert.All(pages, n => Assert.True(n <= 2));
        Assert.True(pages.Count >= 3);
        Assert.Equal(["a", "b", "c", "d", "e"], c.StateOf(3));
    }

    [Fact]
    public void Catch_up_is_paged_by_max_message_bytes_and_a_larger_entry_goes_alone()
    {
        // A response is one message: bounded in bytes, or a long log of full slots made one the transport refused.
        var c = new Cluster(3, o => { o.MaxMessageBytes = 2_500; o.MaxBatchCommands = 1; o.Window = 8; });
        c.Elect(1);
        c.Isolate(3);
        string[] values = [new('a', 1_000), new('b', 1_000), new('c', 5_000), new('d', 1_000), new('e', 1_000)];
        c.Propose(1, values);
        c.DeliverAll();
        c.Heal();

        for (int round = 0; round < 6; round++)
        {
            c.Tick(1, 2);
            c.Tick(3, 4);
            c.DeliverAll();
        }

        var pages = c.Delivered.OfType<CatchUpResponse>().Where(r => r.To == 3 && r.Entries.Count > 0).ToList();
        Assert.All(pages, p => Assert.True(p.Entries.Count == 1 || p.Entries.Sum(e => e.Value.SizeBytes) <= 2_500,
            $"a page of {p.Entries.Count} entries and {p.Entries.Sum(e => e.Value.SizeBytes)} bytes"));
        Assert.Contains(pages, p => p.Entries.Count >= 2);
        Assert.Contains(pages, p => p.Entries.Count == 1 && p.Entries[0].Value.SizeBytes > 2_500);
        Assert.Equal(values, c.StateOf(3));
    }

    [Fact]
    public void A_replica_behind_the_peers_compacted_log_installs_a_snapshot()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Isolate(3);
        c.Propose(1, "a", "b");
        c.Propose(1, "c");
        c.DeliverAll();
        c.Compact(1);
        c.Compact(2);
        Assert.Equal(2, c[1].SnapshotSlot);
        Assert.Empty(c[1].Entries);

        c.Heal();
        c.Tick(1, 2);
        c.DeliverAll();
        var install = Assert.Single(c.Delivered.OfType<InstallSnapshot>());
        Assert.Equal(2, install.Snapshot.Slot);
        Assert.Equal(1, c.Node(3).SnapshotsInstalled);
        Assert.Equal(2, c[3].SnapshotSlot);
        Assert.Equal(["a", "b", "c"], c.StateOf(3));
        Assert.True(c[3].Sessions.SameAs(c[1].Sessions));

        // And it keeps up with the log after the snapshot.
        c.Propose(1, "d");
        c.DeliverAll();
        c.Tick(1, 2);
        c.DeliverAll();
        Assert.Equal(["a", "b", "c", "d"], c.StateOf(3));
    }

    [Fact]
    public void A_candidate_whose_promiser_compacted_past_it_fetches_the_snapshot_before_leading()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Isolate(3);
        c.Propose(1, "a");
        c.Propose(1, "b");
        c.DeliverAll();
        c.Tick(1, 2);
        c.DeliverAll();
        c.Compact(1);
        c.Compact(2);
        c.Heal();
        c.Crash(1);

        // r3 knows nothing; r2's promise says "I truncated through 2", so r3 must learn the snapshot first.
        c.Campaign(3);
        c.DeliverAll();
        Assert.Contains(c.Delivered, m => m is InstallSnapshot { To: 3 });
        Assert.True(c[3].IsLeader);
        c.Propose(3, "c");
        c.DeliverAll();
        c.Tick(3, 2);
        c.DeliverAll();
        Assert.Equal(["a", "b", "c"], c.StateOf(3));
        Assert.Equal(["a", "b", "c"], c.StateOf(2));
    }

    /// <summary>
    /// Two followers both miss slot 1 but know slot 2 chosen; the one member holding slot 1 chosen (the leader) does not
    /// answer at first. Each follower's answer to the other repeats slot 2 and fills nothing: that must count as a
    /// miss, so the asks move on to the member that has slot 1. Counted as served, the two asked each other for ever
    /// (engine seeds 15877 and 16117, session 15: the group never left memory).
    /// </summary>
    [Fact]
    public void An_answer_that_fills_no_gap_sends_the_next_ask_to_another_member()
    {
        var c = new Cluster(3, o => o.MaxBatchCommands = 1);
        c.Elect(1);
        // Slot 1 is chosen by r1 and r2 under r1's first ballot; r3 never sees it.
        c.Drop(m => m is Accept { To: 3 });
        c.Propose(1, "a");
        c.DeliverAll();
        Assert.Equal(1, c[1].CommitIndex);
        c.Heal();

        // r1 restarts and leads again under a new ballot, so r2's accept of slot 1 (older ballot) does not tell it slot 1 is chosen;
        // slot 2 is chosen under the new ballot by all three. r1 serves no catch-up for now (asks to it and what it
        // would push to laggards are lost).
        c.Drop(m => m is CatchUpRequest { To: 1 } or CatchUpResponse { From: 1 });
        c.Crash(1);
        c.Restart(1);
        c.Campaign(1);
        c.DeliverAll();
        Assert.True(c[1].IsLeader);
        c.Propose(1, "b");
        c.DeliverAll();
        c.Tick(1, 2); // the heartbeat tells both followers that slot 2 is chosen
        c.DeliverAll();
        Assert.Equal(0, c[2].CommitIndex);
        Assert.Equal(0, c[3].CommitIndex);

        // The followers retry; their asks to r1 are lost, so they turn to each other; neither has slot 1 chosen.
        for (int i = 0; i < 4; i++)
        {
            c.Tick(2, 4);
            c.Tick(3, 4);
            c.DeliverAll(limit: 1_000); // asking each other for ever would never end a delivery round
        }
        Assert.Contains(c.Delivered.OfType<CatchUpResponse>(), r => r is { From: 2, To: 3 } || r is { From: 3, To: 2 });

        // r1 answers again: the followers' asks reach it and they learn slot 1.
        c.Heal();
        for (int i = 0; i < 12 && (c[2].CommitIndex < 2 || c[3].CommitIndex < 2); i++)
        {
            c.Tick(1, 2);
            c.Tick(2, 4);
            c.Tick(3, 4);
            c.DeliverAll(limit: 1_000);
        }
        Assert.Equal(["a", "b"], c.StateOf(2));
        Assert.Equal(["a", "b"], c.StateOf(3));
    }

    [Fact]
    public void A_follower_whose_catch_up_source_is_gone_asks_the_leader_that_reports_the_same_commit_index()
    {
        var c = new Cluster(3, o => o.MaxBatchCommands = 1);
        c.Elect(1);
        c.Isolate(3);
        c.Propose(1, "a", "b");
        c.DeliverAll();
        c.Heal();

        // r1's heartbeat tells r2 and r3 that slot 2 is chosen; r3 asks r1, which stops for good before it answers.
        c.Tick(1, 2);
        c.DeliverQueued(m => m is Heartbeat);
        Assert.Equal(2, c[2].CommitIndex);
        Assert.Equal(1, c.DropQueued(m => m is CatchUpRequest { To: 1 }));
        c.Crash(1);
        c.Drop(m => m.To == 1);

        // r2 leads next with the same commit index (nothing new is proposed): its heartbeats must make r3 ask it.
        c.Campaign(2);
        c.DeliverAll();
        Assert.True(c[2].IsLeader);
        for (int i = 0; i < 10 && c[3].CommitIndex < 2; i++)
        {
            c.Tick(2, 2);
            c.Tick(3);
            c.DeliverAll();
        }
        Assert.Equal(2, c[3].CommitIndex);
        Assert.Equal(["a", "b"], c.StateOf(3));
        Assert.Contains(c.Delivered.OfType<CatchUpRequest>(), r => r is { From: 3, To: 2 });
    }

    [Fact]
    public void A_follower_asks_another_member_when_its_catch_up_source_is_gone_and_no_leader_is_left()
    {
        var c = new Cluster(3, o => o.MaxBatchCommands = 1);
        c.Elect(1);
        c.Isolate(3);
        c.Propose(1, "a", "b");
        c.DeliverAll();
        c.Heal();
        c.Tick(1, 2);
        c.DeliverQueued(m => m is Heartbeat);
        Assert.Equal(2, c[2].CommitIndex);
        c.Crash(1);
        c.Drop(m => m.To == 1);

        // Nobody leads (an idle group whose leader's silo stopped for good): r3 must fetch from r2 on its own.
        for (int i = 0; i < 10 && c[3].CommitIndex < 2; i++)
        {
            c.Tick(3, 5);
            c.DeliverAll();
        }
        Assert.Equal(2, c[3].CommitIndex);
        Assert.Contains(c.Delivered.OfType<CatchUpRequest>(), r => r is { From: 3, To: 2 });
    }

    [Fact]
    public void A_follower_stops_asking_for_slots_that_only_a_gone_leader_knew_chosen_and_the_next_leader_recovers_them()
    {
        var c = new Cluster(3, o => o.MaxBatchCommands = 1);
        c.Elect(1);
        // "a" is chosen by r1 and r3; r2 misses its accept, and only r2 hears the commit index before r1 stops for good.
        c.Propose(1, "a");
        c.DeliverQueued(m => m is Accept { To: 3 });
        c.Drop(m => m is Accept { To: 2 });
        c.DeliverQueued(m => m is Accepted);
        Assert.Equal(1, c[1].CommitIndex);
        c.Heal();
        c.Drop(m => m.To == 3 && m.From == 1);
        c.Tick(1, 2);
        c.DeliverQueued(m => m is Heartbeat { To: 2 });
        c.Crash(1);
        c.Heal();
        c.Drop(m => m.To == 1);
        Assert.Equal(0, c[2].CommitIndex);
        Assert.Equal(0, c[3].CommitIndex);

        // Nobody can serve slot 1 (r3 holds it accepted, not chosen): r2 stops asking after two rounds over the others,
        // so its group counts as idle (a silo's engine lets it leave memory) instead of asking for ever.
        for (int i = 0; i < 20 && c[2].HasInFlightWork; i++)
        {
            c.Tick(2, 5);
            c.DeliverAll();
        }
        Assert.False(c[2].HasInFlightWork, c[2].ToString());

        // The next leader's phase 1 recovers the slot from r3.
        c.Campaign(2);
        c.DeliverAll();
        Assert.True(c[2].IsLeader);
        Assert.Equal(["a"], c.StateOf(2));
    }
    [Fact]
    public void An_accept_that_arrives_after_the_heartbeat_that_said_its_slot_is_chosen_is_taken_as_chosen()
    {
        var c = new Cluster(3, o => o.MaxBatchCommands = 1);
        c.Elect(1);
        c.Propose(1, "a");
        c.DeliverAll();
        c.Propose(1, "b");
        // Slot 2 is chosen by r1 and r2; r3's accept for it is overtaken by the leader's next heartbeat.
        c.DeliverQueued(m => m is Accept { To: 2 });
        c.DeliverQueued(m => m is Accepted);
        Assert.Equal(2, c[1].CommitIndex);
        var lateAccept = c.Queue.OfType<Accept>().Single(m => m.To == 3);
        c.Queue.Remove(lateAccept);
        c.Tick(1, 2);
        c.DeliverQueued(m => m is Heartbeat { To: 3 });
        // The leader's silo then stops for good, and r2's answers are lost: nobody left serves slot 2 to r3.
        c.Crash(1);
        c.Drop(m => m.To == 1 || m is CatchUpResponse);
        c.Deliver(lateAccept);

        Assert.Equal(2, c[3].CommitIndex);
        Assert.Equal(["a", "b"], c.StateOf(3));
    }
}

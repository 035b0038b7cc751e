using System.Text;
using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

public class PhaseOneRecoveryTests
{
    private static string Payloads(CommittedEntry e) => string.Join(",", e.Commands.Select(c => Encoding.UTF8.GetString(c.Command.Payload)));

    [Fact]
    public void A_new_leader_adopts_the_value_accepted_under_the_highest_ballot()
    {
        var c = new Cluster(5);
        c.Elect(1);
        // r1 (ballot 1.1) proposes "a" at slot 1; only r1 accepts it.
        c.Propose(1, "a");
        c.DropQueued(m => m is Accept);

        // r2 (ballot 2.2) leads without r1 and proposes "b" at slot 1; only r2 accepts it.
        c.Isolate(1);
        c.Elect(2);
        c.Propose(2, "b");
        c.DropQueued(m => m is Accept);
        c.Heal();
        Assert.Equal(new Ballot(1, 1), c[1].Entries.Single(e => e.Slot == 1).Ballot);
        Assert.Equal(new Ballot(2, 2), c[2].Entries.Single(e => e.Slot == 1).Ballot);

        // r3 runs phase 1 with exactly {1, 2, 3}: it hears a@1.1 and b@2.2 for slot 1 and must pick b.
        c.Campaign(3);
        c.DropQueued(m => m is Prepare { To: 4 or 5 });
        c.DeliverQueued(m => m is Prepare);
        c.DeliverQueued(m => m is Promise { From: 1 });
        Assert.Equal(ReplicaRole.Candidate, c[3].Role);
        c.DeliverQueued(m => m is Promise { From: 2 });
        Assert.True(c[3].IsLeader);
        var proposed = c.Queue.OfType<Accept>().SelectMany(a => a.Entries).First(e => e.Slot == 1);
        Assert.Equal("b", Encoding.UTF8.GetString(proposed.Value.Commands.Single().Payload));

        c.DeliverAll();
        c.Tick(3, 2);
        c.DeliverAll();
        foreach (long id in new long[] { 1, 2, 3, 4, 5 })
        {
            Assert.Equal("b", Payloads(c.Node(id).Committed.Single(e => e.Slot == 1)));
        }
        // The displaced leaders report "a" and "b" as abandoned: their outcome was unknown to them.
        Assert.Contains(c.Node(1).Abandoned, x => Encoding.UTF8.GetString(x.Payload) == "a");
    }

    [Fact]
    public void Gaps_below_a_recovered_slot_are_filled_with_noops()
    {
        var c = new Cluster(3, o => o.MaxBatchCommands = 1);
        c.Elect(1);
        c.Propose(1, "a");
        c.Propose(1, "b");
        c.Propose(1, "c");
        // Only slot 3's accept reaches r2; no reply reaches r1.
        c.DeliverQueued(m => m is Accept { To: 2 } a && a.Entries.Any(e => e.Slot == 3));
        c.Queue.Clear();
        c.Crash(1);

        c.Elect(2);
        c.DeliverAll();
        var committed = c.Node(2).Committed;
        Assert.Equal([1L, 2L, 3L], committed.Select(e => e.Slot));
        Assert.Equal(LogValueKind.Noop, committed[0].Kind);
        Assert.Equal(LogValueKind.Noop, committed[1].Kind);
        Assert.Equal("c", Payloads(committed[2]));
        Assert.Equal(["c"], c.StateOf(2));
    }

    [Fact]
    public void A_value_chosen_but_unannounced_survives_the_leader_change()
    {
        var c = new Cluster(3);
        c.Elect(1);
        c.Propose(1, "kept");
        // r2 accepts (so "kept" is chosen by {1, 2}), but r1 never hears back and crashes.
        c.DeliverQueued(m => m is Accept { To: 2 });
        c.Queue.Clear();
        c.Crash(1);

        c.Campaign(3);
        c.DeliverAll();
        Assert.True(c[3].IsLeader);
        c.Tick(3, 2);
        c.DeliverAll();
        Assert.Equal(["kept"], c.StateOf(3));
        Assert.Equal(["kept"], c.StateOf(2));
    }
}

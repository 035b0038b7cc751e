using System.Text;
using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

public class DedupTests
{
    [Fact]
    public void A_command_already_applied_is_rejected_as_already_applied()
    {
        var c = new Cluster(3);
        c.Elect(1);
        var command = c.NewCommand("once");
        c.Propose(1, command);
        c.DeliverAll();
        Assert.Equal(["once"], c.StateOf(1));

        c.Propose(1, command);
        var rejection = Assert.Single(c.Node(1).Rejections);
        Assert.Equal(RejectionReason.AlreadyApplied, rejection.Reason);
        Assert.Same(command, rejection.Command);
        Assert.DoesNotContain(c.Queue, m => m is Accept);
    }

    [Fact]
    public void A_retry_while_the_first_attempt_is_in_flight_is_not_proposed_twice()
    {
        var c = new Cluster(3);
        c.Elect(1);
        var command = c.NewCommand("once");
        c.Propose(1, command);
        int accepts = c.Queue.OfType<Accept>().Count();
        c.Propose(1, command);
        Assert.Equal(accepts, c.Queue.OfType<Accept>().Count());
        Assert.Empty(c.Node(1).Rejections);
        c.DeliverAll();
        Assert.Equal(["once"], c.StateOf(1));
    }

    [Fact]
    public void A_retry_proposed_to_two_successive_leaders_is_applied_once()
    {
        var c = new Cluster(3);
        c.Elect(1);
        var command = c.NewCommand("transfer");
        c.Propose(1, command);
        // r2 accepts, so the command is chosen at slot 1, but r1 crashes before anyone learns it.
        c.DeliverQueued(m => m is Accept { To: 2 });
        c.Queue.Clear();
        c.Crash(1);

        // The client times out and retries at r2, which queues the retry while it campaigns.
        c.Campaign(2);
        c.Propose(2, command);
        c.DeliverAll();
        c.Tick(2, 2);
        c.DeliverAll();

        var slots = c.Node(2).Committed.Where(e => e.Commands.Any(x => x.Command.Id == command.Id)).ToList();
        Assert.Equal(2, slots.Count);
        Assert.False(slots[0].Commands.Single().IsDuplicate);
        Assert.True(slots[1].Commands.Single().IsDuplicate);
        Assert.Equal(["transfer"], c.StateOf(2));
        Assert.Equal(["transfer"], c.StateOf(3));

        // r1 comes back and replays the same decisions: applied once there too.
        c.Restart(1);
        c.Tick(2, 2);
        c.DeliverAll();
        Assert.Equal(["transfer"], c.StateOf(1));
    }

    [Fact]
    public void First_unacknowledged_lets_the_session_table_forget_old_sequences()
    {
        var c = new Cluster(3);
        c.Elect(1);
        var commands = Enumerable.Range(0, 3).Select(i => c.NewCommand($"op{i}")).ToList();
        foreach (var x in commands) c.Propose(1, x);
        c.DeliverAll();
        Assert.Equal([1L, 2L, 3L], c[1].Sessions.Rows.Single().Applied);

        // The client got replies for 1..3: its next command promises never to retry below 4.
        var fourth = c.NewCommand("op3", firstUnacknowledged: 4);
        c.Propose(1, fourth);
        c.DeliverAll();
        c.Tick(1, 2);
        c.DeliverAll();

        foreach (long id in new long[] { 1, 2, 3 })
        {
            var row = c[id].Sessions.Rows.Single();
            Assert.Equal(4, row.Floor);
            Assert.Equal([4L], row.Applied);
        }
        Assert.True(c[1].Sessions.SameAs(c[2].Sessions));
        // Forgotten is not "never seen": a very late retry below the floor is still refused.
        Assert.True(c[1].Sessions.IsApplied(commands[1].Id));
        c.Propose(1, commands[1]);
        Assert.Equal(RejectionReason.AlreadyApplied, Assert.Single(c.Node(1).Rejections).Reason);
    }

    [Fact]
    public void Commands_without_identity_are_never_deduplicated()
    {
        var c = new Cluster(3);
        c.Elect(1);
        var anonymous = new Command(Guid.Empty, 0, 0, Encoding.UTF8.GetBytes("tick"));
        c.Propose(1, anonymous);
        c.DeliverAll();
        c.Propose(1, anonymous);
        c.DeliverAll();
        Assert.Equal(["tick", "tick"], c.StateOf(1));
    }

    [Fact]
    public void The_session_table_evicts_the_least_recently_used_client_when_full()
    {
        var table = new SessionTable(maxSessions: 2);
        var a = new Command(Guid.NewGuid(), 1, 0, []);
        var b = new Command(Guid.NewGuid(), 1, 0, []);
        var d = new Command(Guid.NewGuid(), 1, 0, []);
        Assert.True(table.TryMarkApplied(a, slot: 1));
        Assert.True(table.TryMarkApplied(b, slot: 2));
        Assert.False(table.TryMarkApplied(a, slot: 3));
        Assert.True(table.TryMarkApplied(d, slot: 4));
        Assert.Equal(2, table.Count);
        Assert.False(table.IsApplied(b.Id));
        Assert.True(table.IsApplied(a.Id));
        Assert.True(table.IsApplied(d.Id));
    }
}

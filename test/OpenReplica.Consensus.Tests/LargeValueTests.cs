namespace OpenReplica.Consensus.Tests;

/// <summary>
/// Large values (one big call is a slot of its own): a message is carried whole and Orleans refuses one over its
/// MaxMessageBodySize, so accepts are split at <see cref="ReplicaOptions.MaxMessageBytes"/>, and a large slot's
/// accept is not re-sent every retransmission period while its first copy is still on its way.
/// </summary>
public sealed class LargeValueTests
{
    [Fact]
    public void Accepts_of_several_slots_are_split_at_max_message_bytes()
    {
        var c = new Cluster(3, o => { o.MaxMessageBytes = 2_500; o.MaxBatchCommands = 1; o.Window = 8; });
        c.Elect(1);
        string[] values = [new('a', 1_000), new('b', 1_000), new('c', 5_000), new('d', 1_000)];
        c.Propose(1, values);

        var accepts = c.Queue.OfType<Accept>().Where(a => a.To == 2).ToList();
        Assert.All(accepts, a => Assert.True(a.Entries.Count == 1 || a.Entries.Sum(e => e.Value.SizeBytes) <= 2_500,
            $"an accept of {a.Entries.Count} entries and {a.Entries.Sum(e => e.Value.SizeBytes)} bytes"));
        Assert.Equal(3, accepts.Count); // [a b] [c] [d]
        Assert.Equal(values.Length, accepts.Sum(a => a.Entries.Count));

        c.DeliverAll();
        c.Tick(1, 2);
        c.DeliverAll();
        Assert.Equal(values, c.StateOf(2));
        Assert.Equal(values, c.StateOf(3));
    }

    [Theory]
    [InlineData(1_000, 1)]            // an ordinary slot: every RetransmitTicks, as before
    [InlineData(5 * (1 << 19), 3)]    // 2.5 MiB: one more period per MiB beyond the first
    public void A_large_slot_is_retransmitted_one_period_later_per_mebibyte(int size, int periods)
    {
        const int Retransmit = 4;
        var c = new Cluster(3, o => { o.RetransmitTicks = Retransmit; o.MaxMessageBytes = 8 << 20; });
        c.Elect(1);
        c.Drop(m => m is Accept or Accepted && m.From != m.To); // nothing answers: the leader retransmits
        c.Propose(1, new string('x', size));
        c.DeliverAll();
        int sentBefore = c.Sent.OfType<Accept>().Count(a => a.To == 2);

        for (int tick = 1; tick <= Retransmit * periods; tick++)
        {
            c.Tick(1);
            int resent = c.Sent.OfType<Accept>().Count(a => a.To == 2) - sentBefore;
            Assert.Equal(tick < Retransmit * periods ? 0 : 1, resent);
        }
    }
}

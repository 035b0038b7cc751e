using System.Net;
using Microsoft.Extensions.Time.Testing;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>The receiver side of the transport restores each sender's batch order, and gives up on a lost batch after a short wait.</summary>
public sealed class InOrderDeliveryTests
{
    private static readonly SiloAddress A = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11111), 1);
    private static readonly SiloAddress B = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11112), 1);

    private readonly FakeTimeProvider _time = new();
    private readonly List<(SiloAddress From, long Sequence)> _delivered = [];

    private InOrderDelivery NewDelivery() => new(batch => _delivered.Add((batch.From, batch.Sequence)), _time);

    private static ReplicaEnvelope Batch(SiloAddress from, long sequence) => new(from, [new ReplicaEnvelopeItem("g", [1])], sequence);

    [Fact]
    public void Batches_that_arrive_out_of_order_are_delivered_in_send_order_per_sender()
    {
        using var delivery = NewDelivery();
        foreach (long s in new long[] { 3, 1, 4, 2, 6, 5 }) delivery.Receive(Batch(A, s));
        delivery.Receive(Batch(B, 2)); // another sender's stream is independent: held until B's 1 arrives
        delivery.Receive(Batch(B, 1));

        Assert.Equal([1, 2, 3, 4, 5, 6], _delivered.Where(d => d.From.Equals(A)).Select(d => d.Sequence));
        Assert.Equal([1, 2], _delivered.Where(d => d.From.Equals(B)).Select(d => d.Sequence));
        Assert.Equal(0, delivery.Skipped);
        Assert.Equal(0, delivery.Late);
    }

    [Fact]
    public void A_lost_batch_holds_the_ones_behind_it_only_for_the_gap_wait_and_a_late_one_still_arrives()
    {
        using var delivery = NewDelivery();
        delivery.Receive(Batch(A, 1));
        delivery.Receive(Batch(A, 3));
        delivery.Receive(Batch(A, 4));
        Assert.Equal([1], _delivered.Select(d => d.Sequence));

        _time.Advance(InOrderDelivery.GapWait - TimeSpan.FromMilliseconds(1));
        Assert.Equal([1], _delivered.Select(d => d.Sequence)); // still waiting for 2
        _time.Advance(TimeSpan.FromMilliseconds(1));
        Assert.Equal([1, 3, 4], _delivered.Select(d => d.Sequence));
        Assert.Equal(1, delivery.Skipped);

        delivery.Receive(Batch(A, 2)); // after all: delivered, counted late, not dropped
        delivery.Receive(Batch(A, 5));
        Assert.Equal([1, 3, 4, 2, 5], _delivered.Select(d => d.Sequence));
        Assert.Equal(1, delivery.Late);
    }

    [Fact]
    public void A_receiver_that_starts_mid_stream_gives_up_on_the_earlier_numbers_once()
    {
        using var delivery = NewDelivery();
        delivery.Receive(Batch(A, 500)); // the sender had talked to this silo's previous incarnation
        Assert.Empty(_delivered);
        _time.Advance(InOrderDelivery.GapWait);
        delivery.Receive(Batch(A, 501));
        Assert.Equal([500, 501], _delivered.Select(d => d.Sequence));
        Assert.Equal(499, delivery.Skipped);
    }

    [Fact]
    public void Too_many_held_batches_give_up_the_gap_at_once_and_unnumbered_batches_pass_straight_through()
    {
        using var delivery = NewDelivery();
        for (long s = 2; s <= InOrderDelivery.MaxHeldBatches + 2; s++) delivery.Receive(Batch(A, s));
        Assert.Equal(InOrderDelivery.MaxHeldBatches + 1, _delivered.Count);
        Assert.Equal(Enumerable.Range(2, InOrderDelivery.MaxHeldBatches + 1).Select(i => (long)i), _delivered.Select(d => d.Sequence));

        delivery.Receive(Batch(B, 0));
        Assert.Equal((B, 0L), _delivered[^1]);
    }
}

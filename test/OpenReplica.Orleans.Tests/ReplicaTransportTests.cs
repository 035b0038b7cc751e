using Microsoft.Extensions.DependencyInjection;
using Orleans.Services;
using Orleans.TestingHost;

namespace OpenReplica.Orleans.Tests;

[Collection(ClusterCollection.Name)]
public sealed class ReplicaTransportTests(ClusterFixture fixture)
{
    private InProcessTestCluster Cluster => fixture.Cluster;

    [Fact]
    public async Task Messages_sent_from_one_silo_arrive_at_the_other_silos_sink()
    {
        var a = Cluster.Silos[0].SiloAddress;
        var b = Cluster.Silos[1].SiloAddress;
        var sink = (RecordingSink)Cluster.Service<IReplicaMessageSink>(b);
        var transport = Cluster.Service<ReplicaTransport>(a);

        transport.Send(b, "grain/alice", [1, 2, 3]);

        await Poll.UntilAsync(() => sink.Items.Any(i => i.Item.GroupId == "grain/alice"), "message delivered to B");
        var (from, item) = sink.Items.Single(i => i.Item.GroupId == "grain/alice");
        Assert.Equal(a, from);
        Assert.Equal([1, 2, 3], item.Payload);
    }

    [Fact]
    public async Task A_batch_of_1000_messages_arrives_in_order_in_far_fewer_deliveries()
    {
        const int Messages = 1000;
        var a = Cluster.Silos[1].SiloAddress;
        var b = Cluster.Silos[2].SiloAddress;
        var sink = (RecordingSink)Cluster.Service<IReplicaMessageSink>(b);
        var transport = Cluster.Service<ReplicaTransport>(a);
        var callsBefore = sink.Calls;

        // An engine step hands the transport every group's messages for a peer at once; delivery is one-way, so
        // single sends from independent callers leave as they come, but a batch leaves in one call (or a few).
        transport.Send(b, Enumerable.Range(0, Messages).Select(i => new ReplicaEnvelopeItem($"burst/{i % 50}", BitConverter.GetBytes(i))).ToList());

        await Poll.UntilAsync(() => sink.Items.Count(x => x.Item.GroupId.StartsWith("burst/", StringComparison.Ordinal)) == Messages, "all burst messages delivered");
        var calls = sink.Calls - callsBefore;
        Assert.InRange(calls, 1, Messages / 10);
        Assert.Equal(0, transport.Dropped);

        var order = sink.Items.Where(x => x.Item.GroupId.StartsWith("burst/", StringComparison.Ordinal))
            .Select(x => BitConverter.ToInt32(x.Item.Payload));
        Assert.Equal(Enumerable.Range(0, Messages), order);
    }

    [Fact]
    public async Task Large_messages_leave_in_batches_bounded_in_bytes_and_in_order()
    {
        // Five 3 MiB messages sent at once: each call carries at most TransportMaxBatchBytes (8 MiB), so two at most,
        // not one call of 15 MiB (three 40 MB accepts in one call went over Orleans' MaxMessageBodySize, which refuses
        // the call and drops the connection with everything queued on it).
        const int Size = 3 << 20;
        var a = Cluster.Silos[2].SiloAddress;
        var b = Cluster.Silos[0].SiloAddress;
        var sink = (RecordingSink)Cluster.Service<IReplicaMessageSink>(b);
        var transport = Cluster.Service<ReplicaTransport>(a);
        var receiver = Cluster.GetSiloServiceProvider(b).GetServices<IGrainService>().OfType<ReplicaHost>().Single();
        long lateBefore = receiver.LateBatches;

        transport.Send(b, Enumerable.Range(0, 5).Select(i => new ReplicaEnvelopeItem($"big/{i}", Enumerable.Repeat((byte)i, Size).ToArray())).ToList());

        await Poll.UntilAsync(() => sink.Items.Count(x => x.Item.GroupId.StartsWith("big/", StringComparison.Ordinal)) == 5, "all large messages delivered");
        var batches = sink.Batches.Where(batch => batch.Any(i => i.GroupId.StartsWith("big/", StringComparison.Ordinal))).ToList();
        Assert.All(batches, batch => Assert.True(batch.Sum(i => (long)i.Payload.Length) <= ReplicatedGrainsOptions.DefaultTransportMaxBatchBytes,
            $"a batch of {batch.Sum(i => (long)i.Payload.Length):N0} bytes"));
        Assert.InRange(batches.Count, 3, 5);
        Assert.All(batches, batch => Assert.Equal(batch.OrderBy(i => i.Payload[0]).Select(i => i.Payload[0]), batch.Select(i => i.Payload[0])));
        var order = sink.Items.Where(x => x.Item.GroupId.StartsWith("big/", StringComparison.Ordinal)).Select(x => x.Item.Payload[0]).ToList();
        // The receiver restores the send order unless a batch came more than InOrderDelivery.GapWait (50 ms) after the
        // one behind it: then it gives up on the gap and counts the batch as late (CI, with the simulator running
        // beside it, once took longer than that to bring a 6 MiB batch in). Out of order only with a late batch.
        byte[] sent = [0, 1, 2, 3, 4];
        if (receiver.LateBatches == lateBefore) Assert.Equal(sent, order);
        else Assert.Equal(sent, order.Order());
    }

    [Fact]
    public async Task A_message_larger_than_one_Orleans_call_can_carry_is_dropped_and_counted_and_the_rest_still_arrives()
    {
        // Orleans refuses a call over MaxMessageBodySize (100 MB here) and drops the connection with everything queued
        // on it; the transport drops that one message instead (a State or call this large cannot be replicated).
        var a = Cluster.Silos[0].SiloAddress; // a sender no other test counts drops of
        var b = Cluster.Silos[2].SiloAddress;
        var sink = (RecordingSink)Cluster.Service<IReplicaMessageSink>(b);
        var transport = Cluster.Service<ReplicaTransport>(a);
        long droppedBefore = transport.Dropped;

        transport.Send(b, [new ReplicaEnvelopeItem("huge/0", new byte[ReplicaTransport.DefaultMaxMessageBodySize]), new ReplicaEnvelopeItem("huge/after", [7])]);

        await Poll.UntilAsync(() => sink.Items.Any(x => x.Item.GroupId == "huge/after"), "the message after the oversized one delivered");
        Assert.DoesNotContain(sink.Items, x => x.Item.GroupId == "huge/0");
        Assert.Equal(droppedBefore + 1, transport.Dropped);
    }

    [Fact]
    public async Task Each_replica_host_reports_its_own_replica_id()
    {
        var client = Cluster.Service<ReplicaHostClient>(Cluster.Silos[0].SiloAddress);
        var infos = await Task.WhenAll(Cluster.Silos.Select(s => client.For(s.SiloAddress).GetInfoAsync()));

        Assert.Equal(Cluster.Silos.Select(s => s.SiloAddress), infos.Select(i => i.Silo));
        Assert.Equal(3, infos.Select(i => i.ReplicaId).Distinct().Count());
        Assert.All(infos, i => Assert.False(i.Persisted));
        Assert.All(infos, i => Assert.NotEqual(Guid.Empty, i.ReplicaId));
    }
}

using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Seam for the consensus layer: receives the messages other silos sent to this silo's replicas.
/// Called on the replica host's turn, one call per delivered batch; it must not block (hand the items to the
/// replicas' own queues and return).
/// </summary>
public interface IReplicaMessageSink
{
    void OnMessages(SiloAddress from, IReadOnlyList<ReplicaEnvelopeItem> items);
}

/// <summary>Default sink until the consensus layer registers one: drops what arrives, counting it.</summary>
internal sealed class DiscardingReplicaMessageSink : IReplicaMessageSink
{
    private long _discarded;

    public long Discarded => Interlocked.Read(ref _discarded);

    public void OnMessages(SiloAddress from, IReadOnlyList<ReplicaEnvelopeItem> items) => Interlocked.Add(ref _discarded, items.Count);
}

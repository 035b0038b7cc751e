using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Seam for the consensus layer: receives the messages other silos sent to this silo's replicas.
/// Called on the replica host's turn, one call per delivered batch; it must not block (hand the items to the
/// replicas' own queues and return).
/// </summary>
public interface IReplicaMessageSink
{
    /// <summary>Takes the <paramref name="items"/> that silo <paramref name="from"/> sent in one batch.</summary>
    void OnMessages(SiloAddress from, IReadOnlyList<ReplicaEnvelopeItem> items);
}

using Microsoft.Extensions.Options;
using Orleans.Serialization;

namespace OpenReplica.Orleans;

/// <summary>The silo services every replicated grain activation uses, resolved once per silo.</summary>
internal sealed class ReplicatedGrainServices(
    ICallReplicator replicator,
    Serializer serializer,
    DeepCopier copier,
    IOptions<ReplicatedGrainsOptions> options,
    Diagnostics.ReplicationInstruments instruments)
{
    public Diagnostics.ReplicationInstruments Instruments { get; } = instruments;

    public ICallReplicator Replicator { get; } = replicator;

    public Serializer Serializer { get; } = serializer;

    /// <summary>Copies results handed to callers, so a same-silo caller never shares an object with <c>State</c>.</summary>
    public DeepCopier Copier { get; } = copier;

    public TimeSpan CallTimeout { get; } = options.Value.CallTimeout;

    public int MaxCallBytes { get; } = options.Value.MaxCallBytes;
}

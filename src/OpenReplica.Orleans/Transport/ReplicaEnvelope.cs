using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>One consensus message for one Paxos group (a grain, or the meta group).</summary>
[GenerateSerializer, Immutable]
public readonly record struct ReplicaEnvelopeItem(
    [property: Id(0)] string GroupId,
    [property: Id(1)] byte[] Payload);

/// <summary>
/// All messages one silo had queued for another when its sender loop woke: the messages of many groups
/// travel in one <see cref="IReplicaHost.DeliverAsync"/> call.
/// </summary>
/// <param name="From">The sending silo.</param>
/// <param name="Items">The messages, in the order they were queued.</param>
/// <param name="Sequence">
/// The sender loop's number for this batch (1, 2, ... per sending silo and destination): the receiver restores send
/// order with it. 0: not numbered.
/// </param>
[GenerateSerializer, Immutable]
public sealed record ReplicaEnvelope(
    [property: Id(0)] SiloAddress From,
    [property: Id(1)] IReadOnlyList<ReplicaEnvelopeItem> Items,
    [property: Id(2)] long Sequence = 0);

/// <summary>What a silo's replica host says about itself.</summary>
/// <param name="ReplicaId">
/// The silo's replica identity: stable across restarts when a data directory is set, random otherwise. Not the
/// silo address, which changes on every restart.
/// </param>
/// <param name="Silo">The silo the host runs on.</param>
/// <param name="Persisted">Whether the identity (and, later, the log) lives in a data directory.</param>
/// <param name="FaultDomain">The silo's fault domain (rack, zone) from its options, or null when it declares none.</param>
[GenerateSerializer, Immutable]
public sealed record ReplicaHostInfo(
    [property: Id(0)] Guid ReplicaId,
    [property: Id(1)] SiloAddress Silo,
    [property: Id(2)] bool Persisted,
    [property: Id(3)] string? FaultDomain = null);

/// <summary>A roster version: the replica ids of the roster and the meta-group slot that chose it (0: genesis).</summary>
[GenerateSerializer, Immutable]
public sealed record RosterInfo(
    [property: Id(0)] long[] Members,
    [property: Id(1)] long Version,
    [property: Id(2)] Dictionary<long, string>? Domains = null);

/// <summary>
/// What a silo's replica of one group knows: its newest configuration and the slot from which it is in force, whether
/// it leads, its commit index, its whole configuration history (a silo added to the group starts from it), and the
/// commit index its disk holds (a removed member drops its replica only once a majority of the configuration that
/// removed it holds that configuration's window there: <c>PeerView.RemovalIsDurable</c>; 0 from an older peer), and the
/// highest slot its log holds an entry of (a drop decided on this status is refused if the replica voted above it
/// since: <c>PeerView.StillLeft</c>; 0 from an older peer).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record GroupStatus(
    [property: Id(0)] long[] Latest,
    [property: Id(1)] long[] InForce,
    [property: Id(2)] bool Leader,
    [property: Id(3)] bool HasActivation,
    [property: Id(4)] long CommitIndex,
    [property: Id(5)] long LatestFromSlot = 0,
    [property: Id(6)] ConfigEpoch[]? Epochs = null,
    [property: Id(7)] long DurableCommitIndex = 0,
    [property: Id(8)] long HighestSlotHeld = 0);

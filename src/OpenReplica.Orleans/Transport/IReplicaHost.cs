using Orleans.Services;

namespace OpenReplica.Orleans;

/// <summary>The per-silo replica host, a grain service reached on a given silo through <see cref="ReplicaHostClient"/>.</summary>
[Alias("OpenReplica.Orleans.IReplicaHost")]
public interface IReplicaHost : IGrainService
{
    /// <summary>
    /// Delivers a batch of consensus messages from another silo to this silo's <see cref="IReplicaMessageSink"/>.
    /// One-way: no response message per batch; a lost batch is recovered by the protocol's retransmissions.
    /// </summary>
    [Alias("DeliverAsync")]
    [global::Orleans.Concurrency.OneWay]
    Task DeliverAsync(ReplicaEnvelope batch);

    /// <summary>This silo's replica identity, mode and fault domain (a peer checks it before counting the silo as a replica).</summary>
    [Alias("GetInfoAsync")]
    Task<ReplicaHostInfo> GetInfoAsync();

    /// <summary>The replica roster this silo knows (identities), or null while it knows none.</summary>
    [Alias("GetRosterAsync")]
    Task<Guid[]?> GetRosterAsync();

    /// <summary>The newest roster this silo knows (replica ids) and the meta-group slot that chose it.</summary>
    [Alias("GetCurrentRosterAsync")]
    Task<RosterInfo?> GetCurrentRosterAsync();

    /// <summary>What this silo's replica of the group knows, or null when the silo holds none (in memory or on disk).</summary>
    [Alias("GetGroupStatusAsync")]
    Task<GroupStatus?> GetGroupStatusAsync(string groupId);

    /// <summary>
    /// Waits, at most <paramref name="wait"/>, until this silo's replica of the group has committed through
    /// <paramref name="slot"/> (a rebalancer asks before it removes a member: one call instead of a poll per 100 ms).
    /// Returns the replica's commit index then, or -1 while this silo holds no replica of the group.
    /// </summary>
    [Alias("WaitCommittedAsync")]
    Task<long> WaitCommittedAsync(string groupId, long slot, TimeSpan wait);

    /// <summary>
    /// Records a birth claim for a group this silo holds no replica of (first claim wins; see <see cref="BirthClaim"/>),
    /// or says which replica or other claim it holds instead.
    /// </summary>
    [Alias("ClaimBirthAsync")]
    Task<BirthAnswer> ClaimBirthAsync(string groupId, BirthClaim claim);

    /// <summary>Drops this proposer's claim on the group if it is still the one of <paramref name="attempt"/> (the birth gave way).</summary>
    [Alias("ReleaseBirthAsync")]
    Task ReleaseBirthAsync(string groupId, long proposer, long attempt);

    /// <summary>The replica is leaving gracefully (its silo is stopping): the meta group's leader removes it from the roster.</summary>
    [Alias("LeaveRosterAsync")]
    Task LeaveRosterAsync(long replicaId);

    /// <summary>
    /// As <see cref="LeaveRosterAsync"/>, naming the silo the replica leaves from: a silo that had not learned that
    /// address yet would otherwise keep the replica marked as leaving after it restarts under a new one. Silos of
    /// versions before it do not know this method; a leaving silo falls back to <see cref="LeaveRosterAsync"/> there
    /// (a rolling upgrade mixes both).
    /// </summary>
    [Alias("LeaveRosterFromAsync")]
    Task LeaveRosterFromAsync(long replicaId, SiloAddress silo);

    /// <summary>
    /// Replica <paramref name="replicaId"/> restarted with its data on <paramref name="silo"/> and admits consensus
    /// messages now: this silo tells it the commit index of every group it leads with it, so it catches up on groups
    /// that went idle while it was away (see <see cref="ReturnNotice"/>). Silos of versions before it do not know this
    /// method; the returning silo ignores their failure, and its groups catch up at their next write there.
    /// </summary>
    [Alias("ReplicaBackAsync")]
    Task ReplicaBackAsync(long replicaId, SiloAddress silo);
}

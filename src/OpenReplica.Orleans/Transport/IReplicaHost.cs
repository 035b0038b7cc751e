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

    [Alias("GetInfoAsync")]
    Task<ReplicaHostInfo> GetInfoAsync();

    /// <summary>The replica roster this silo knows (identities), or null while it knows none.</summary>
    [Alias("GetRosterAsync")]
    Task<Guid[]?> GetRosterAsync();

    /// <summary>The newest roster this silo knows (replica ids) and the meta-group slot that chose it.</summary>
    [Alias("GetCurrentRosterAsync")]
    Task<RosterInfo?> GetCurrentRosterAsync();
}

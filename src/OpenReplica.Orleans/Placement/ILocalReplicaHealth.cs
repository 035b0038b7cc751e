namespace OpenReplica.Orleans;

/// <summary>
/// Whether the placing silo itself is fit to host replicated grains' activations now (the silo's replication runtime:
/// not while its write-ahead log is failing, nor while its replicas' lease guard runs after a restart). Placement skips
/// an unfit silo when another replica silo is live.
/// </summary>
internal interface ILocalReplicaHealth
{
    /// <summary>
    /// Why this silo should host no activation now, null when it may. Placement skips the silo while this is set, and
    /// an activation that another silo placed here anyway steps aside before it runs (ConsensusCallReplicator): both
    /// ask this one question.
    /// </summary>
    string? UnfitReason { get; }
}

namespace OpenReplica.Orleans;

/// <summary>
/// Whether the placing silo itself is fit to host replicated grains' activations now (the silo's replication runtime:
/// not while its write-ahead log is failing). Placement skips an unfit silo when another replica silo is live.
/// </summary>
internal interface ILocalReplicaHealth
{
    /// <summary>False while this silo's log is failing and for a probation period after it last failed.</summary>
    bool StartsActivations { get; }
}

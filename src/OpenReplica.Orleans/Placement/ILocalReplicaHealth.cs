namespace OpenReplica.Orleans;

/// <summary>
/// Whether the placing silo itself is fit to host replicated grains' activations now (the silo's replication runtime:
/// not while its write-ahead log is failing, nor while its replicas' lease guard runs after a restart). Placement skips
/// an unfit silo when another replica silo is live.
/// </summary>
internal interface ILocalReplicaHealth
{
    /// <summary>False while this silo's log is failing and for a probation period after it last failed.</summary>
    bool StartsActivations { get; }

    /// <summary>
    /// True for one lease after this silo restarted with its data (leases on): its replicas promise nobody, themselves
    /// included, so an activation here could not lead until then. Placement skips it like a failing log.
    /// </summary>
    bool LeaseGuarded { get; }
}

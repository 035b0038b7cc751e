namespace OpenReplica.Orleans;

/// <summary>How a silo's replicas keep their votes and logs.</summary>
public enum ReplicationMode
{
    /// <summary>Written to the data directory and fsynced before a vote is acknowledged (survives whole-cluster restarts).</summary>
    Persisted,

    /// <summary>Memory only: survives the failure of a minority of a grain's replicas, not a whole-cluster restart.</summary>
    Volatile,
}

namespace OpenReplica.Orleans;

/// <summary>What one silo says about its replica: identity, data directory mode, and the groups it holds.</summary>
[GenerateSerializer, Immutable]
public sealed record SiloReplicationStatus
{
    /// <summary>The silo's address (Orleans' <c>SiloAddress</c>, as text).</summary>
    [Id(0)] public required string Silo { get; init; }

    /// <summary>The silo's replica identity (kept in its data directory in Persisted mode; new per process in Volatile).</summary>
    [Id(1)] public required Guid ReplicaIdentity { get; init; }

    /// <summary>The replica id derived from <see cref="ReplicaIdentity"/> (the id in roster, ballots and WAL).</summary>
    [Id(2)] public required long ReplicaId { get; init; }

    /// <summary><c>Persisted</c> or <c>Volatile</c>.</summary>
    [Id(3)] public required ReplicationMode Mode { get; init; }

    /// <summary>The data directory (Persisted mode), or null.</summary>
    [Id(4)] public string? DataDirectory { get; init; }

    /// <summary>The replica was read from the data directory at start (this silo ran before), rather than created.</summary>
    [Id(5)] public bool Restored { get; init; }

    /// <summary>The replica is a member of the roster this silo knows.</summary>
    [Id(6)] public bool InRoster { get; init; }

    /// <summary>The roster version this silo knows (-1: none yet).</summary>
    [Id(7)] public long RosterVersion { get; init; }

    /// <summary>Groups whose replica on this silo is in memory.</summary>
    [Id(8)] public int GroupsHeld { get; init; }

    /// <summary>Groups led by an activation on this silo.</summary>
    [Id(9)] public int GroupsActive { get; init; }

    /// <summary>Groups with a replica in this silo's log that are not in memory.</summary>
    [Id(10)] public int GroupsEvicted { get; init; }

    /// <summary>Groups whose replica on this silo leads.</summary>
    [Id(11)] public int GroupsLed { get; init; }

    /// <summary>
    /// The roster version at which this silo's rebalancer last found every group it holds on its replica set
    /// (-1: no pass finished yet). Below <see cref="RosterVersion"/>: groups may still have to move.
    /// </summary>
    [Id(12)] public long RebalancedRosterVersion { get; init; } = -1;

    /// <summary>Groups the rebalancer's last pass found on a configuration other than their replica set in the roster.</summary>
    [Id(13)] public int GroupsMisplaced { get; init; }

    /// <summary>Groups this silo moved to their replica set since it started (each through its own log).</summary>
    [Id(14)] public long MovesCompleted { get; init; }

    /// <summary>Moves that did not finish since the silo started (retried on the next pass).</summary>
    [Id(15)] public long MovesFailed { get; init; }

    /// <summary>Why this silo's write-ahead log stopped accepting appends (a full disk, a failed fsync), or null while it works.</summary>
    [Id(16)] public string? LogFailure { get; init; }

    /// <summary>
    /// Whether the silo hosts replicated grains' activations: false while its log is failing and for a few seconds
    /// after it last failed (its grains are served from their other replica silos meanwhile).
    /// </summary>
    [Id(17)] public bool HostsActivations { get; init; } = true;

    /// <summary>The roster changed and this silo's groups are not all on their new replica sets yet.</summary>
    public bool RebalancePending => RosterVersion >= 0 && (RebalancedRosterVersion != RosterVersion || GroupsMisplaced > 0);
}

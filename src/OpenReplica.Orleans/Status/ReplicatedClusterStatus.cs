namespace OpenReplica.Orleans;

/// <summary>
/// A cluster's replication health as seen by one query (<see cref="IReplicatedClusterStatus.GetStatusAsync"/>,
/// <c>openreplica status</c>): the replica roster and the meta-group slot that chose it, each live silo, the leaders
/// of the groups, replicas behind their leader's commit index, and whether a replacement is pending.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record ReplicatedClusterStatus
{
    /// <summary>When the status was taken (UTC, on the silo that aggregated it).</summary>
    [Id(0)] public required DateTimeOffset TakenAt { get; init; }

    /// <summary>The slot of the meta group's log that chose the roster (0 for the genesis roster, -1 while none is known).</summary>
    [Id(1)] public required long RosterVersion { get; init; }

    /// <summary>The roster: the replicas that hold replicated grains, and where each runs now.</summary>
    [Id(2)] public required RosterMemberStatus[] Roster { get; init; }

    /// <summary>Every live silo that answered, in address order.</summary>
    [Id(3)] public required SiloReplicationStatus[] Silos { get; init; }

    /// <summary>The leader of every group that has one now (the meta group is <c>roster</c>).</summary>
    [Id(4)] public required GroupLeaderStatus[] Leaders { get; init; }

    /// <summary>Replicas behind their group leader's commit index, or whose silo is gone.</summary>
    [Id(5)] public required LaggingReplicaStatus[] Lagging { get; init; }

    /// <summary>Silos that did not answer the query (their address and the error).</summary>
    [Id(6)] public required string[] Unreachable { get; init; }

    /// <summary>
    /// A roster member runs on no live silo: after <see cref="ReplicatedGrainsOptions.ReplacementGracePeriod"/> the meta
    /// group's leader replaces it with a spare (a live silo outside the roster), if there is one.
    /// </summary>
    public bool ReplacementPending => Roster.Any(m => !m.Live);

    /// <summary>
    /// A silo's groups are not all on their replica sets in the current roster yet (after a roster change: a silo
    /// joined, left or was replaced); the rebalancer moves them in the background. Grains keep working meanwhile.
    /// </summary>
    public bool RebalancePending => Silos.Any(s => s.RebalancePending);

    /// <summary>A silo's write-ahead log is failing, or failed moments ago: it hosts no activations meanwhile.</summary>
    public bool LogFailing => Silos.Any(s => s.LogFailure is not null || !s.HostsActivations);

    /// <summary>
    /// Every roster member runs, no silo is unreachable, no replica lags and no silo's log is failing (a pending
    /// rebalance is not unhealthy).
    /// </summary>
    public bool Healthy => RosterVersion >= 0 && !ReplacementPending && Unreachable.Length == 0 && Lagging.Length == 0 && !LogFailing;
}

/// <summary>One replica of the roster.</summary>
[GenerateSerializer, Immutable]
public sealed record RosterMemberStatus(
    [property: Id(0)] long ReplicaId,
    [property: Id(1)] string? Silo,
    [property: Id(2)] bool Live);

/// <summary>The leader of one group.</summary>
[GenerateSerializer, Immutable]
public sealed record GroupLeaderStatus(
    [property: Id(0)] string Group,
    [property: Id(1)] long ReplicaId,
    [property: Id(2)] string Silo,
    [property: Id(3)] long CommitIndex,
    [property: Id(4)] long[] Members);

/// <summary>
/// A replica of a group behind its leader: <see cref="KnownSlot"/> (the highest slot it accepted or knows chosen)
/// is below <see cref="LeaderCommitIndex"/>, or its silo is gone (<see cref="Silo"/> null, <see cref="KnownSlot"/> -1).
/// </summary>
[GenerateSerializer, Immutable]
public sealed record LaggingReplicaStatus(
    [property: Id(0)] string Group,
    [property: Id(1)] long ReplicaId,
    [property: Id(2)] string? Silo,
    [property: Id(3)] long KnownSlot,
    [property: Id(4)] long LeaderCommitIndex);

namespace OpenReplica.Consensus;

/// <summary>The role a replica plays in its group at a moment.</summary>
public enum ReplicaRole
{
    /// <summary>Accepts and learns; proposals are refused with a leader hint.</summary>
    Follower,
    /// <summary>Running phase 1; proposals are queued until it leads.</summary>
    Candidate,
    /// <summary>Phase 1 done for its ballot; runs phase 2 per slot.</summary>
    Leader,
}

/// <summary>A slot this leader proposed and that is not yet known chosen.</summary>
internal sealed class InFlightSlot(LogValue value, long sentAtTick)
{
    public LogValue Value { get; } = value;
    public HashSet<long> Acks { get; } = [];
    public long SentAtTick { get; set; } = sentAtTick;
}

/// <summary>A linearizable read waiting for leadership confirmation and for the state machine to reach its index.</summary>
internal sealed class PendingRead(long requestId, long index, long context)
{
    public long RequestId { get; } = requestId;
    public long Index { get; } = index;
    public long Context { get; } = context;
    public HashSet<long> Acks { get; } = [];
    public bool Confirmed { get; set; }
}

/// <summary>Everything a candidate or leader holds for its ballot; dropped when it steps down.</summary>
internal sealed class LeaderState(Ballot ballot)
{
    public Ballot Ballot { get; } = ballot;

    /// <summary>Replicas that promised <see cref="Ballot"/> (and reported their accepted entries).</summary>
    public HashSet<long> Promised { get; } = [];

    /// <summary>Per slot above the commit index, the accepted entry with the highest ballot among the promises.</summary>
    public Dictionary<long, LogEntry> Recovered { get; } = [];

    /// <summary>A promiser truncated its log up to here: the leader must learn a snapshot before it leads.</summary>
    public long SnapshotNeededThrough { get; set; }

    public long NextSlot { get; set; }

    /// <summary>The highest commit index sent to the followers (in an accept or heartbeat).</summary>
    public long CommitSentThrough { get; set; }

    public SortedDictionary<long, InFlightSlot> InFlight { get; } = [];

    public Queue<Command> Pending { get; } = new();

    /// <summary>Identities of commands queued or in flight, so a retry is not proposed twice.</summary>
    public HashSet<CommandId> PendingIds { get; } = [];

    public ClusterConfig? PendingConfig { get; set; }

    public bool ConfigInFlight { get; set; }

    public long PrepareSentAtTick { get; set; }

    public long ReadContext { get; set; }

    public List<PendingRead> Reads { get; } = [];

    /// <summary>Replicas heard from since the last check-quorum (election mode only).</summary>
    public HashSet<long> RecentlyHeard { get; } = [];

    public int TicksSinceQuorumCheck { get; set; }

    /// <summary>Heartbeats sent for the lease (context, host clock at send) not yet acknowledged by a quorum.</summary>
    public List<(long Context, long SentAt)> LeaseProbes { get; } = [];

    /// <summary>Per follower, the highest heartbeat context it acknowledged under this ballot.</summary>
    public Dictionary<long, long> AckedContext { get; } = [];

    /// <summary>Host clock before which this leader holds a read lease (valid only with <see cref="LeaseConfigVersion"/>).</summary>
    public long LeaseUntil { get; set; } = long.MinValue;

    /// <summary>The configuration history the lease was confirmed against (its newest epoch's first slot).</summary>
    public long LeaseConfigVersion { get; set; }

    /// <summary>A configuration proposed at this slot: no lease is used until it is chosen.</summary>
    public long LeaseBlockedThrough { get; set; }

    /// <summary>
    /// Thrifty accepts (<see cref="ReplicaOptions.AcceptSpares"/>): the members in the order accepts prefer them: ring
    /// order from this replica's id when the ballot begins; a member that let a slot wait for a retransmission moves to the back.
    /// </summary>
    public List<long> AcceptOrder { get; } = [];

    /// <summary>The accept targets last worked out, for <see cref="AcceptTargetsConfig"/> (the order changes rarely).</summary>
    public List<long>? AcceptTargets { get; set; }

    /// <summary>The configuration <see cref="AcceptTargets"/> was worked out for.</summary>
    public ClusterConfig? AcceptTargetsConfig { get; set; }

    /// <summary>
    /// Thrifty accepts: per member left out of some accept, the first slot it may lack. The leader pushes it the chosen
    /// entries from there with its next heartbeat (or commit flush).
    /// </summary>
    public Dictionary<long, long> Lagging { get; } = [];

    /// <summary>Slots up to here may hold values chosen before this ballot: reads wait until they are applied.</summary>
    public long ReadFloor { get; set; }
}

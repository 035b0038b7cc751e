namespace OpenReplica.Consensus;

/// <summary>Settings of one replica of a group. Every limit is named here and checked by <see cref="Validate"/>.</summary>
public sealed class ReplicaOptions
{
    /// <summary>Default for <see cref="Window"/>.</summary>
    public const int DefaultWindow = 32;
    /// <summary>Default for <see cref="MaxBatchCommands"/>.</summary>
    public const int DefaultMaxBatchCommands = 512;
    /// <summary>Default for <see cref="MaxBatchBytes"/> (1 MiB).</summary>
    public const int DefaultMaxBatchBytes = 1 << 20;
    /// <summary>Default for <see cref="MaxPendingProposals"/>.</summary>
    public const int DefaultMaxPendingProposals = 16_384;
    /// <summary>Default for <see cref="HeartbeatTicks"/>.</summary>
    public const int DefaultHeartbeatTicks = 2;
    /// <summary>Default for <see cref="ElectionTimeoutTicks"/>.</summary>
    public const int DefaultElectionTimeoutTicks = 10;
    /// <summary>Default for <see cref="MaxCatchUpEntries"/>.</summary>
    public const int DefaultMaxCatchUpEntries = 256;
    /// <summary>Default for <see cref="MaxMessageBytes"/> (4 MiB).</summary>
    public const int DefaultMaxMessageBytes = 4 << 20;
    /// <summary>Default for <see cref="RetransmitTicks"/>.</summary>
    public const int DefaultRetransmitTicks = 4;

    /// <summary>This replica's id; unique in the group and never reused by a replica that lost its data.</summary>
    public long ReplicaId { get; set; }

    /// <summary>The first configuration. Null for a replica that joins later through reconfiguration.</summary>
    public ClusterConfig? InitialConfig { get; set; }

    /// <summary>
    /// For a replica added to an existing group: the configuration history of the peer whose view it starts from
    /// (facts of that peer's chosen log), in place of <see cref="InitialConfig"/> from slot 1. The replica then knows
    /// the group only from that history's first epoch on (<see cref="ConfigHistory.KnownFrom"/>). Null: a genesis member.
    /// </summary>
    public ConfigHistory? InitialConfigs { get; set; }

    /// <summary>
    /// Whether <see cref="InitialConfigs"/> sets a vote floor (<see cref="PaxosReplica.VoteFloor"/>). True (the cautious
    /// default) unless the host knows no earlier replica of the group under this id ever voted: a member added for the
    /// first time has no lost votes to keep clear of, and a floor would keep it from voting in older configurations still
    /// in force that may need it. The same answer a host that persists the view gives in <see cref="PersistentState.ViewSetsVoteFloor"/>.
    /// </summary>
    public bool ViewSetsVoteFloor { get; set; } = true;

    /// <summary>In-flight slots beyond the commit index (pipelining); also the delay before a new configuration is in force.</summary>
    public int Window { get; set; } = DefaultWindow;

    /// <summary>Commands batched into one slot at most.</summary>
    public int MaxBatchCommands { get; set; } = DefaultMaxBatchCommands;

    /// <summary>Payload bytes batched into one slot at most (a single larger command still gets its own slot).</summary>
    public int MaxBatchBytes { get; set; } = DefaultMaxBatchBytes;

    /// <summary>Proposals queued while the window is full; beyond this a proposal is rejected with QueueFull.</summary>
    public int MaxPendingProposals { get; set; } = DefaultMaxPendingProposals;

    /// <summary>Ticks between leader heartbeats (and retransmissions of prepares).</summary>
    public int HeartbeatTicks { get; set; } = DefaultHeartbeatTicks;

    /// <summary>
    /// Base election timeout in ticks; the actual timeout is random in [T, 2T). Zero disables elections:
    /// the replica leads only when the host calls <see cref="PaxosReplica.Campaign"/> (grain activations).
    /// </summary>
    public int ElectionTimeoutTicks { get; set; } = DefaultElectionTimeoutTicks;

    /// <summary>Ticks before an unanswered accept or catch-up request is sent again.</summary>
    public int RetransmitTicks { get; set; } = DefaultRetransmitTicks;

    /// <summary>
    /// Thrifty accepts: how many members beyond a bare quorum each accept is sent to. A leader sends a slot's accept to
    /// the fewest members that make a quorum with its own vote, plus this many, in an order of preference it keeps per
    /// ballot (ring order from its own id at first, so the groups a replica leads prefer the same peers; a member that
    /// let a slot wait for a retransmission moves to the back). The members left
    /// out learn the chosen entries later, pushed with the leader's next heartbeat or commit flush. Fewer accepts mean
    /// fewer messages, appends and votes per slot (at factor 5 with 0 spares, two followers' work instead of four); a
    /// slow preferred member costs a retransmission period before the others are asked. <see cref="int.MaxValue"/>
    /// (the default): every member gets every accept.
    /// </summary>
    public int AcceptSpares { get; set; } = int.MaxValue;

    /// <summary>Chosen entries sent in one catch-up response at most.</summary>
    public int MaxCatchUpEntries { get; set; } = DefaultMaxCatchUpEntries;

    /// <summary>
    /// Bytes of log entries (<see cref="LogValue.SizeBytes"/>) one accept or catch-up answer carries at most; the first
    /// entry of each goes even if larger, and more entries go as more messages. A message is carried whole: 256 full
    /// 1 MiB slots in one catch-up answer, or three 40 MB slots retransmitted in one accept, made one that Orleans
    /// refuses (over its 100 MB <c>MaxMessageBodySize</c>, dropping the connection with everything queued on it).
    /// </summary>
    public int MaxMessageBytes { get; set; } = DefaultMaxMessageBytes;

    /// <summary>Clients remembered by the session table.</summary>
    public int MaxSessions { get; set; } = SessionTable.DefaultMaxSessions;

    /// <summary>How votes are counted (a strict majority by default); every two quorums of a configuration must intersect.</summary>
    public IQuorumRule Quorum { get; set; } = MajorityQuorum.Instance;

    /// <summary>
    /// For hosts that send a leader's accepts while its own append is still being made durable (leader and
    /// followers persist in parallel). The leader's own acceptance then counts as a vote only when the host delivers
    /// it back: the core emits it as an <see cref="Accepted"/> message to itself, which the host, like every vote,
    /// sends only after the Ready's records are durable. Phase 1 alike: a candidate's prepares (requests, not votes) may
    /// leave while its promise of the new ballot is being made durable, and its own promise counts only when the
    /// <see cref="Promise"/> it sends itself is delivered back. False: the leader counts its own acceptance and promise
    /// at once (the host persists before it sends anything).
    /// </summary>
    public bool ParallelPersist { get; set; }

    /// <summary>
    /// For hosts whose followers do not run the state machine (grain groups: only the activation applies): a leader
    /// that compacts its log sends the snapshot to the other members, and a member that already applied through the
    /// snapshot's slot compacts its own log to it. Followers then keep no more log than the leader, in memory and on
    /// disk, instead of every entry since the group began. False: each replica compacts on its own.
    /// </summary>
    public bool ShipSnapshotsToFollowers { get; set; }

    /// <summary>
    /// Leader leases for reads, in units of the host clock given to <see cref="PaxosReplica.SetClock"/>; 0 turns them off.
    /// A follower that acknowledges a leader's heartbeat promises no other candidate for this long (measured on its
    /// own clock from receipt); the leader serves reads locally until the send time of a heartbeat a quorum
    /// acknowledged plus this duration minus <see cref="LeaseSafetyMargin"/>. Failover is delayed by up to this long.
    /// </summary>
    public long LeaseDuration { get; set; }

    /// <summary>
    /// How much shorter the leader takes its lease than its followers' promise, to cover clocks that run at slightly
    /// different rates and the host's clock staleness within a batch; 0 means LeaseDuration / 8.
    /// </summary>
    public long LeaseSafetyMargin { get; set; }

    /// <summary>
    /// A replica restarted from its disk may have granted leases before the crash that it no longer remembers: the
    /// host sets this to (clock at restart + LeaseDuration) so it promises no candidate, itself included, before then.
    /// </summary>
    public long InitialLeaseGuardUntil { get; set; } = long.MinValue;

    internal long EffectiveLeaseMargin => LeaseSafetyMargin > 0 ? LeaseSafetyMargin : LeaseDuration / 8;

    /// <summary>Seed of the replica's deterministic random source (election timeouts).</summary>
    public ulong RandomSeed { get; set; } = 1;

    /// <summary>Bugs planted on purpose, for the simulator's self-test only.</summary>
    public PlantedBug PlantedBugs { get; set; }

    /// <summary>Lets <see cref="Validate"/> accept <see cref="PlantedBugs"/> (the simulator's self-test only).</summary>
    public bool AllowPlantedBugs { get; set; }

    /// <summary>A copy of these options (they are mutable; each replica keeps its own).</summary>
    public ReplicaOptions Clone() => (ReplicaOptions)MemberwiseClone();

    /// <summary>Throws <see cref="ArgumentException"/> naming the first option that is out of range.</summary>
    public void Validate()
    {
        Require(ReplicaId > 0, nameof(ReplicaId), "must be positive");
        Require(Window is >= 1 and <= 10_000, nameof(Window), "must be between 1 and 10000");
        Require(MaxBatchCommands >= 1, nameof(MaxBatchCommands), "must be at least 1");
        Require(MaxBatchBytes >= 1, nameof(MaxBatchBytes), "must be at least 1");
        Require(MaxPendingProposals >= 1, nameof(MaxPendingProposals), "must be at least 1");
        Require(HeartbeatTicks >= 1, nameof(HeartbeatTicks), "must be at least 1");
        Require(ElectionTimeoutTicks == 0 || ElectionTimeoutTicks > HeartbeatTicks, nameof(ElectionTimeoutTicks),
            "must be 0 (no elections) or greater than HeartbeatTicks");
        Require(RetransmitTicks >= 1, nameof(RetransmitTicks), "must be at least 1");
        Require(AcceptSpares >= 0, nameof(AcceptSpares), "must be 0 or more");
        Require(MaxCatchUpEntries >= 1, nameof(MaxCatchUpEntries), "must be at least 1");
        Require(MaxMessageBytes >= 1, nameof(MaxMessageBytes), "must be at least 1");
        Require(MaxSessions >= 1, nameof(MaxSessions), "must be at least 1");
        Require(LeaseDuration >= 0, nameof(LeaseDuration), "must be 0 (no leases) or positive");
        Require(LeaseSafetyMargin >= 0 && (LeaseDuration == 0 || LeaseSafetyMargin < LeaseDuration), nameof(LeaseSafetyMargin),
            "must be 0 (LeaseDuration / 8) or positive and below LeaseDuration");
        Require(PlantedBugs == PlantedBug.None || AllowPlantedBugs, nameof(PlantedBugs), "planted bugs are for the simulator only");
    }

    private static void Require(bool ok, string option, string rule)
    {
        if (!ok) throw new ArgumentException($"ReplicaOptions.{option} {rule}.", option);
    }
}

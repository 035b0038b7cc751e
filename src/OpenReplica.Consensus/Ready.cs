namespace OpenReplica.Consensus;

/// <summary>
/// The acceptor state that must be durable before any message of the same <see cref="Ready"/> leaves. <see cref="VoteFloor"/>
/// is the first slot this replica may vote for (<see cref="PaxosReplica.VoteFloor"/>); 0 for a replica whose votes all
/// count (a genesis member, or one restarted from its own disk).
/// </summary>
public sealed record HardState(Ballot Promised, long CommitIndex, long VoteFloor = 0);

/// <summary>One command of a committed slot. A duplicate was applied before (same client and sequence) and must not be applied again.</summary>
public readonly record struct AppliedCommand(Command Command, bool IsDuplicate);

/// <summary>A slot now chosen and due to be applied, in slot order.</summary>
public sealed record CommittedEntry(long Slot, LogValueKind Kind, IReadOnlyList<AppliedCommand> Commands, ClusterConfig? Config);

/// <summary>Why a proposal was refused.</summary>
public enum RejectionReason
{
    /// <summary>This replica does not lead the group; try <see cref="ProposalRejection.LeaderHint"/>.</summary>
    NotLeader,
    /// <summary>The bounded proposal queue is full; retry later.</summary>
    QueueFull,
    /// <summary>The command was already applied (exactly-once): answer it from the reply you stored.</summary>
    AlreadyApplied,
    /// <summary>A configuration change is already in progress.</summary>
    ConfigChangeInProgress,
}

/// <summary>A proposal that will not be chosen through this replica, and why.</summary>
public sealed record ProposalRejection(Command? Command, RejectionReason Reason, long? LeaderHint)
{
    /// <summary>The reason in words, with the leader hint when there is one.</summary>
    public override string ToString() => Reason switch
    {
        RejectionReason.NotLeader => $"not leader, try replica {(LeaderHint?.ToString() ?? "unknown")}",
        RejectionReason.QueueFull => "proposal queue full",
        RejectionReason.AlreadyApplied => "already applied",
        _ => "configuration change in progress",
    };
}

/// <summary>A linearizable read may run now: everything up to <paramref name="Index"/> is applied and leadership was confirmed.</summary>
public readonly record struct ReadState(long RequestId, long Index);

/// <summary>
/// What the host must do after a call into the core, in this order:
/// 1. persist <see cref="Entries"/>, then <see cref="HardState"/>, and <see cref="SnapshotToPersist"/> (durably, in Persisted mode);
/// 2. only then send <see cref="Messages"/>;
/// 3. install <see cref="SnapshotToInstall"/> into the state machine, then apply <see cref="Committed"/> in order;
/// 4. answer <see cref="Rejections"/>, <see cref="Abandoned"/> and <see cref="Reads"/>.
/// Readys must be handled in the order they were returned; several may be merged with <see cref="Append"/>.
/// </summary>
public sealed class Ready
{
    // Lists are made on first use: a core step allocates a Ready per input, and most of them fill one list or none.
    private List<LogEntry>? _entries;
    private List<Message>? _messages;
    private List<CommittedEntry>? _committed;
    private List<ProposalRejection>? _rejections;
    private List<Command>? _abandoned;
    private List<ReadState>? _reads;
    private List<long>? _failedReads;

    /// <summary>The promise and commit index to make durable before any message of this Ready leaves; null when unchanged.</summary>
    public HardState? HardState { get; internal set; }
    /// <summary>Log entries to make durable before any message of this Ready leaves.</summary>
    public List<LogEntry> Entries => _entries ??= [];
    /// <summary>A snapshot to make durable (one taken here or installed from a peer); null if none.</summary>
    public Snapshot? SnapshotToPersist { get; internal set; }
    /// <summary>Messages to send to peers, after the records above are durable.</summary>
    public List<Message> Messages => _messages ??= [];
    /// <summary>A snapshot from a peer to load into the state machine before <see cref="Committed"/> is applied.</summary>
    public Snapshot? SnapshotToInstall { get; internal set; }
    /// <summary>Slots newly chosen, to apply in order.</summary>
    public List<CommittedEntry> Committed => _committed ??= [];
    /// <summary>Proposals that will not be chosen through this replica.</summary>
    public List<ProposalRejection> Rejections => _rejections ??= [];

    /// <summary>Commands this replica had proposed when it lost leadership: they may or may not be chosen later.</summary>
    public List<Command> Abandoned => _abandoned ??= [];

    /// <summary>Read-index requests whose index is now confirmed: answer them once that index is applied.</summary>
    public List<ReadState> Reads => _reads ??= [];

    /// <summary>Reads that cannot be served here (lost or no leadership).</summary>
    public List<long> FailedReads => _failedReads ??= [];

    /// <summary>This replica became the leader in this step.</summary>
    public bool BecameLeader { get; internal set; }

    /// <summary>
    /// With <see cref="BecameLeader"/>: the last slot a value may have been chosen in before this leadership (the
    /// commit index or the highest slot recovered in phase 1). The leader's state machine has seen every earlier
    /// decision once it applied through this slot; it should serve nothing before.
    /// </summary>
    public long LeaderFloor { get; internal set; }

    /// <summary>This replica stopped leading in this step.</summary>
    public bool LostLeadership { get; internal set; }

    /// <summary>Whether the Ready carries log entries to persist (without making the list).</summary>
    public bool HasEntries => Any(_entries);

    /// <summary>Whether the Ready carries messages (without making the list).</summary>
    public bool HasMessages => Any(_messages);

    /// <summary>Whether the Ready carries committed entries (without making the list).</summary>
    public bool HasCommitted => Any(_committed);

    /// <summary>
    /// Whether the Ready carries anything for the state machine's host: a snapshot to install, committed entries,
    /// answers to proposals or reads, a change of leadership (without making any list).
    /// </summary>
    public bool HasEffects => SnapshotToInstall is not null || Any(_committed) || Any(_rejections) || Any(_abandoned)
        || Any(_reads) || Any(_failedReads) || BecameLeader || LostLeadership;

    /// <summary>Whether anything must be made durable before the messages are sent.</summary>
    public bool MustPersist => HardState is not null || Any(_entries) || SnapshotToPersist is not null;

    /// <summary>Whether the Ready carries nothing for the host to do.</summary>
    public bool IsEmpty => !MustPersist && !Any(_messages) && SnapshotToInstall is null && !Any(_committed)
        && !Any(_rejections) && !Any(_abandoned) && !Any(_reads) && !Any(_failedReads)
        && !BecameLeader && !LostLeadership;

    private static bool Any<T>(List<T>? list) => list is { Count: > 0 };

    private static void AddTo<T>(ref List<T>? target, List<T>? source)
    {
        if (source is not { Count: > 0 }) return;
        if (target is null) target = [.. source];
        else target.AddRange(source);
    }

    /// <summary>Merges a later Ready into this one, keeping the order of effects.</summary>
    public void Append(Ready later)
    {
        if (later.SnapshotToInstall is not null)
        {
            // A snapshot replaces everything applied before it; earlier commits are superseded.
            Invariant.Assert(SnapshotToInstall is null || later.SnapshotToInstall.Slot >= SnapshotToInstall.Slot);
            _committed?.Clear();
            SnapshotToInstall = later.SnapshotToInstall;
        }
        HardState = later.HardState ?? HardState;
        AddTo(ref _entries, later._entries);
        SnapshotToPersist = later.SnapshotToPersist ?? SnapshotToPersist;
        AddTo(ref _messages, later._messages);
        AddTo(ref _committed, later._committed);
        AddTo(ref _rejections, later._rejections);
        AddTo(ref _abandoned, later._abandoned);
        AddTo(ref _reads, later._reads);
        AddTo(ref _failedReads, later._failedReads);
        BecameLeader |= later.BecameLeader;
        LeaderFloor = Math.Max(LeaderFloor, later.LeaderFloor);
        LostLeadership |= later.LostLeadership;
    }
}

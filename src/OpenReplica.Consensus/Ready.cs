namespace OpenReplica.Consensus;

/// <summary>The acceptor state that must be durable before any message of the same <see cref="Ready"/> leaves.</summary>
public sealed record HardState(Ballot Promised, long CommitIndex);

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
    /// <summary>The promise and commit index to make durable before any message of this Ready leaves; null when unchanged.</summary>
    public HardState? HardState { get; internal set; }
    /// <summary>Log entries to make durable before any message of this Ready leaves.</summary>
    public List<LogEntry> Entries { get; } = [];
    /// <summary>A snapshot to make durable (one taken here or installed from a peer); null if none.</summary>
    public Snapshot? SnapshotToPersist { get; internal set; }
    /// <summary>Messages to send to peers, after the records above are durable.</summary>
    public List<Message> Messages { get; } = [];
    /// <summary>A snapshot from a peer to load into the state machine before <see cref="Committed"/> is applied.</summary>
    public Snapshot? SnapshotToInstall { get; internal set; }
    /// <summary>Slots newly chosen, to apply in order.</summary>
    public List<CommittedEntry> Committed { get; } = [];
    /// <summary>Proposals that will not be chosen through this replica.</summary>
    public List<ProposalRejection> Rejections { get; } = [];

    /// <summary>Commands this replica had proposed when it lost leadership: they may or may not be chosen later.</summary>
    public List<Command> Abandoned { get; } = [];

    /// <summary>Read-index requests whose index is now confirmed: answer them once that index is applied.</summary>
    public List<ReadState> Reads { get; } = [];

    /// <summary>Reads that cannot be served here (lost or no leadership).</summary>
    public List<long> FailedReads { get; } = [];

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

    /// <summary>Whether anything must be made durable before the messages are sent.</summary>
    public bool MustPersist => HardState is not null || Entries.Count > 0 || SnapshotToPersist is not null;

    /// <summary>Whether the Ready carries nothing for the host to do.</summary>
    public bool IsEmpty => !MustPersist && Messages.Count == 0 && SnapshotToInstall is null && Committed.Count == 0
        && Rejections.Count == 0 && Abandoned.Count == 0 && Reads.Count == 0 && FailedReads.Count == 0
        && !BecameLeader && !LostLeadership;

    /// <summary>Merges a later Ready into this one, keeping the order of effects.</summary>
    public void Append(Ready later)
    {
        if (later.SnapshotToInstall is not null)
        {
            // A snapshot replaces everything applied before it; earlier commits are superseded.
            Invariant.Assert(SnapshotToInstall is null || later.SnapshotToInstall.Slot >= SnapshotToInstall.Slot);
            Committed.Clear();
            SnapshotToInstall = later.SnapshotToInstall;
        }
        HardState = later.HardState ?? HardState;
        Entries.AddRange(later.Entries);
        SnapshotToPersist = later.SnapshotToPersist ?? SnapshotToPersist;
        Messages.AddRange(later.Messages);
        Committed.AddRange(later.Committed);
        Rejections.AddRange(later.Rejections);
        Abandoned.AddRange(later.Abandoned);
        Reads.AddRange(later.Reads);
        FailedReads.AddRange(later.FailedReads);
        BecameLeader |= later.BecameLeader;
        LeaderFloor = Math.Max(LeaderFloor, later.LeaderFloor);
        LostLeadership |= later.LostLeadership;
    }
}

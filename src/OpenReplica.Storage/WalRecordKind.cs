namespace OpenReplica.Storage;

/// <summary>What a record means to the retention rules (the payload itself is opaque to storage).</summary>
public enum WalRecordKind : byte
{
    /// <summary>Promise/ballot state of a group; only the latest one per group is retained.</summary>
    HardState = 1,
    /// <summary>A value accepted for <see cref="WalRecord.Slot"/>; the latest per slot is retained while above the group's snapshot.</summary>
    Accept = 2,
    /// <summary>A slot known chosen; the latest per slot is retained while above the group's snapshot.</summary>
    Commit = 3,
    /// <summary>Configuration; the latest per group is always retained, others while above the snapshot.</summary>
    Config = 4,
    /// <summary>The group discards its log up to and including <see cref="WalRecord.Slot"/> without a snapshot.</summary>
    Truncate = 5,
    /// <summary>Written by <see cref="IReplicaLog.DeleteGroupAsync"/>; cannot be appended directly.</summary>
    GroupDeleted = 6,
}

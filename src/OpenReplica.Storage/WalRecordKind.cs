namespace OpenReplica.Storage;

/// <summary>
/// What a record means to the retention rules (the payload itself is opaque to storage). The byte values are the
/// on-disk format: 3, 4 and 5 were kinds nothing ever wrote (commit, config, truncate) and stay unused.
/// </summary>
public enum WalRecordKind : byte
{
    /// <summary>Promise/ballot state of a group; only the latest one per group is retained.</summary>
    HardState = 1,
    /// <summary>A value accepted (or known chosen) for <see cref="WalRecord.Slot"/>; the latest per slot is retained while above the group's snapshot.</summary>
    Accept = 2,
    /// <summary>Written by <see cref="IReplicaLog.DeleteGroupAsync"/>; cannot be appended directly.</summary>
    GroupDeleted = 6,
}

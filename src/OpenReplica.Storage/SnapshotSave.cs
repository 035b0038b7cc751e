namespace OpenReplica.Storage;

/// <summary>One group's snapshot to save with others in one <see cref="IReplicaLog.SaveSnapshotsAsync"/>.</summary>
public readonly record struct SnapshotSave(string GroupId, long Slot, ReadOnlyMemory<byte> Snapshot);

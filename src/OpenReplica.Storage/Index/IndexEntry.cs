namespace OpenReplica.Storage;

/// <summary>One record of a segment as the retention rules see it (no payload).</summary>
internal readonly record struct IndexEntry(long Lsn, GroupState Group, WalRecordKind Kind, long Slot, int Offset, int Length);

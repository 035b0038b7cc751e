namespace OpenReplica.Storage;

/// <summary>What the index keeps of one record of a segment: enough to apply the retention rules and read its bytes.</summary>
internal readonly record struct SegmentEntry(long Lsn, WalRecordKind Kind, long Slot, int Offset, int Length);

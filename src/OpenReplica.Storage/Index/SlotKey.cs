namespace OpenReplica.Storage;

internal readonly record struct SlotKey(WalRecordKind Kind, long Slot);

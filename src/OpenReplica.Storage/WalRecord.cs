namespace OpenReplica.Storage;

/// <summary>
/// One log record. Storage interprets only the header (group, kind, slot) for retention; the ballot is stored so
/// that tools can show it. The payload buffer must not change until the append that carries it completes.
/// </summary>
public readonly record struct WalRecord(
    string GroupId,
    WalRecordKind Kind,
    long Slot,
    long BallotRound,
    int BallotReplica,
    ReadOnlyMemory<byte> Payload);

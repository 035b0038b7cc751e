namespace OpenReplica.Storage;

/// <summary>A place in a file.</summary>
public readonly record struct WalFileOffset(string File, long Offset);

/// <summary>What <see cref="WalInspector.Inspect(string)"/> found.</summary>
public sealed record WalInspection(
    string Directory,
    IReadOnlyList<WalSegmentInfo> Segments,
    IReadOnlyList<WalGroupInfo> Groups,
    WalFileOffset? TornTail);

/// <summary>One segment file. LSNs are absent for a segment without records.</summary>
public sealed record WalSegmentInfo(string FileName, long Bytes, int Records, long? FirstLsn, long? LastLsn);

/// <summary>
/// One group's records on disk. <see cref="Records"/> counts every physical record (including superseded ones and
/// carried-forward copies); <see cref="RetainedRecords"/> counts what a restart would replay.
/// </summary>
public sealed record WalGroupInfo(
    string GroupId,
    int Records,
    int RetainedRecords,
    IReadOnlyDictionary<WalRecordKind, int> RecordsByKind,
    long? MinSlot,
    long? MaxSlot,
    long MaxBallotRound,
    int MaxBallotReplica,
    long Bytes,
    long? SnapshotSlot,
    IReadOnlyList<string> Segments);

/// <summary>
/// Result of <see cref="WalInspector.Verify(string)"/>. A torn tail is not an error: it is what a crash leaves and
/// what recovery cuts off. <see cref="Corruption"/> is the first damaged place, which stops recovery, and
/// <see cref="Error"/> says what is wrong there.
/// </summary>
public sealed record WalVerification(bool IsValid, WalFileOffset? Corruption, string? Error, WalFileOffset? TornTail, int Segments, long Records);

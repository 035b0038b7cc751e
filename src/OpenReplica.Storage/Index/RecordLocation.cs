namespace OpenReplica.Storage;

/// <summary>
/// Where the retained copy of a record lives. A carried-forward copy keeps its LSN, so equal LSNs mean the same
/// record and the copy in the later segment is the one that counts. The length feeds the per-segment live tally.
/// </summary>
internal readonly record struct RecordLocation(long Lsn, long Segment, int Length = 0)
{
    public bool Supersedes(RecordLocation? other) =>
        other is not { } o || Lsn > o.Lsn || (Lsn == o.Lsn && Segment >= o.Segment);
}

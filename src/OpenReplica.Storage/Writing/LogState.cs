namespace OpenReplica.Storage;

/// <summary>
/// State shared by the writer thread and readers. The writer mutates the index and segment list only under
/// <see cref="Sync"/> and only after the bytes involved are durable, so readers never see an unacknowledged record.
/// </summary>
internal sealed class LogState(List<Segment> segments, RetentionIndex index, long nextLsn)
{
    private long _nextLsn = nextLsn;

    public object Sync { get; } = new();

    /// <summary>Ordered by sequence; the last one is the head.</summary>
    public List<Segment> Segments { get; } = segments;

    public RetentionIndex Index { get; } = index;

    public Segment Head => Segments[^1];

    /// <summary>The LSN the next appended record gets; only the writer advances it.</summary>
    public long NextLsn
    {
        get => Volatile.Read(ref _nextLsn);
        set => Volatile.Write(ref _nextLsn, value);
    }
}

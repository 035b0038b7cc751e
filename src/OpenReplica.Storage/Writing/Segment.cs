namespace OpenReplica.Storage;

/// <summary>
/// A segment of the running log and where its records are found by group: the head segment keeps them in memory
/// (<see cref="Head"/>), a sealed one on disk (<see cref="Index"/>).
/// </summary>
internal sealed class Segment(long sequence, string path, long baseLsn)
{
    public long Sequence { get; } = sequence;

    public string Path { get; } = path;

    public long BaseLsn { get; } = baseLsn;

    /// <summary>Bytes known durable (header + fsynced records); readers never look beyond it.</summary>
    public long Length { get; set; }

    /// <summary>The head segment's records by group; null once sealed.</summary>
    public HeadIndex? Head { get; set; } = new();

    /// <summary>A sealed segment's index file; null while it is the head.</summary>
    public SegmentIndexFile? Index { get; set; }

    /// <summary>Open only on the head segment, the one being appended to.</summary>
    public IFile? Writer { get; set; }

    /// <summary>Appends the group's records in this segment (those that may be retained) to <paramref name="into"/>, oldest first.</summary>
    public void Collect(IFileSystem fs, GroupKey key, List<SegmentEntry> into)
    {
        if (Head is { } head)
        {
            head.Collect(key, into);
        }
        else
        {
            Index?.Collect(fs, key, into);
        }
    }
}

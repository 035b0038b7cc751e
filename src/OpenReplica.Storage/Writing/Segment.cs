namespace OpenReplica.Storage;

/// <summary>
/// A segment of the running log and where its records are found by group: on disk in index files
/// (<see cref="Indexes"/>: one per sealed segment after recovery; while a segment is the head, a new one each time
/// its in-memory index reaches <see cref="WalOptions.HeadIndexEntries"/>), and for the head segment's newest records
/// in memory (<see cref="Head"/>).
/// </summary>
internal sealed class Segment(long sequence, string path, long baseLsn)
{
    public long Sequence { get; } = sequence;

    public string Path { get; } = path;

    public long BaseLsn { get; } = baseLsn;

    /// <summary>Bytes known durable (header + fsynced records); readers never look beyond it.</summary>
    public long Length { get; set; }

    /// <summary>The head segment's newest records by group; null once sealed.</summary>
    public HeadIndex? Head { get; set; } = new();

    /// <summary>Index files of the segment's older records (all of them once sealed), oldest first.</summary>
    public List<SegmentIndexFile> Indexes { get; } = [];

    /// <summary>A read handle kept open between lookups of cold groups' records (closed before the file is deleted).</summary>
    public CachedReader Reader { get; } = new(path);

    /// <summary>Closes the kept read handles of the segment and of its index files.</summary>
    public void CloseReaders()
    {
        Reader.Close();
        foreach (SegmentIndexFile index in Indexes) index.CloseReader();
    }

    /// <summary>Open only on the head segment, the one being appended to.</summary>
    public IFile? Writer { get; set; }

    /// <summary>Appends the group's records in this segment (those that may be retained) to <paramref name="into"/>, oldest first.</summary>
    public void Collect(IFileSystem fs, GroupKey key, List<SegmentEntry> into)
    {
        foreach (SegmentIndexFile index in Indexes)
        {
            index.Collect(fs, key, into);
        }

        Head?.Collect(key, into);
    }
}

namespace OpenReplica.Storage;

/// <summary>A segment of the running log and the index of its records.</summary>
internal sealed class Segment(long sequence, string path, long baseLsn)
{
    public long Sequence { get; } = sequence;

    public string Path { get; } = path;

    public long BaseLsn { get; } = baseLsn;

    /// <summary>Bytes known durable (header + fsynced records); readers never look beyond it.</summary>
    public long Length { get; set; }

    public List<IndexEntry> Entries { get; } = [];

    /// <summary>Open only on the head segment, the one being appended to.</summary>
    public IFile? Writer { get; set; }
}

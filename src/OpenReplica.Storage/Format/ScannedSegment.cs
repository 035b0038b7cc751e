namespace OpenReplica.Storage;

/// <summary>What recovery learned from one segment file.</summary>
internal sealed class ScannedSegment(long sequence, string path, long fileLength)
{
    public long Sequence { get; } = sequence;

    public string Path { get; } = path;

    public long FileLength { get; } = fileLength;

    /// <summary>Null when the header itself was torn (a crash while the segment was being created).</summary>
    public long? BaseLsn { get; set; }

    /// <summary>Length of the valid prefix: header plus every intact record.</summary>
    public long ValidLength { get; set; }

    /// <summary>Offset of a torn tail that recovery cuts off, or null.</summary>
    public long? TornAt { get; set; }

    public List<ScannedRecord> Records { get; } = [];
}

/// <summary>A record's header and place in its segment (payloads are re-read on demand, not kept in memory).</summary>
internal readonly record struct ScannedRecord(long Offset, DecodedRecord Header);

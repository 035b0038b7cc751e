namespace OpenReplica.Storage;

/// <summary>
/// Parses a segment and decides torn tail versus corruption. A write that a crash interrupted can only damage the
/// end of the last segment, and nothing can have been acknowledged from it; so a bad record is a torn tail only if
/// it is in the last segment and no intact record follows it. Anything else is corruption of data that may have
/// been acknowledged, and recovery must stop rather than drop it.
/// </summary>
internal static class SegmentScanner
{
    public static ScannedSegment Scan(long sequence, string path, ReadOnlySpan<byte> data, bool isLast)
    {
        var segment = new ScannedSegment(sequence, path, data.Length);
        if (!SegmentHeader.TryRead(data, out long baseLsn))
        {
            // A segment is created with a header and fsynced before any record goes into it, so a bad header can
            // only be a torn creation, and only on the last segment, with nothing after it.
            if (!isLast || ContainsRecordFrom(data, SegmentHeader.Size))
            {
                throw new WalCorruptionException(path, 0, "bad segment header");
            }

            segment.TornAt = 0;
            segment.ValidLength = 0;
            return segment;
        }

        segment.BaseLsn = baseLsn;
        int position = SegmentHeader.Size;
        while (position < data.Length)
        {
            DecodeStatus status = RecordCodec.TryDecode(data[position..], out DecodedRecord header);
            if (status == DecodeStatus.Ok)
            {
                segment.Records.Add(new ScannedRecord(position, header));
                position += header.Length;
                continue;
            }

            string problem = status == DecodeStatus.Truncated ? "record cut short" : "bad record (checksum or header)";
            if (!isLast)
            {
                throw new WalCorruptionException(path, position, problem + " in a sealed segment");
            }

            if (ContainsRecordFrom(data, position + 1))
            {
                throw new WalCorruptionException(path, position, problem + " followed by intact records");
            }

            segment.TornAt = position;
            break;
        }

        segment.ValidLength = position;
        return segment;
    }

    /// <summary>Is there an intact record starting at any byte offset at or after <paramref name="start"/>?</summary>
    private static bool ContainsRecordFrom(ReadOnlySpan<byte> data, int start)
    {
        for (int p = start; p + RecordCodec.MinRecordSize <= data.Length; p++)
        {
            if (RecordCodec.TryDecode(data[p..], out _) == DecodeStatus.Ok)
            {
                return true;
            }
        }

        return false;
    }
}

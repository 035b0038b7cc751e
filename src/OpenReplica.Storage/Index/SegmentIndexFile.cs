using System.Buffers.Binary;

namespace OpenReplica.Storage;

/// <summary>
/// The on-disk index of a sealed segment (<c>wal-&lt;seq&gt;.idx</c> next to <c>wal-&lt;seq&gt;.log</c>): its records that
/// may still be retained, sorted by group key, so a cold group's records are found with one small read per segment.
/// Memory keeps only every <see cref="FenceEvery"/>-th key. The file is derived data: recovery rewrites it from the
/// segment on every open, so it is never fsynced and a crash cannot leave a stale one behind.
/// <code>header: "ORWALIDX", i64 count; entry (48 bytes): u64 keyHigh, u64 keyLow, i64 lsn, i64 slot, i32 offset, i32 length, u8 kind, 7 zero</code>
/// </summary>
internal sealed class SegmentIndexFile
{
    public const int FenceEvery = 64;
    public const string Pattern = "wal-*.idx";
    private const int HeaderSize = 16;
    private const int EntrySize = 48;
    private static ReadOnlySpan<byte> Magic => "ORWALIDX"u8;

    private readonly GroupKey[] _fences;

    private SegmentIndexFile(string path, long count, GroupKey[] fences)
    {
        Path = path;
        Count = count;
        _fences = fences;
        _reader = new CachedReader(path);
    }

    public string Path { get; }

    private readonly CachedReader _reader; // opened at the first lookup and kept: a cold group's lookup reads every index file

    /// <summary>Closes the kept read handle (before the file is deleted, or when the log closes).</summary>
    public void CloseReader() => _reader.Close();

    public long Count { get; }

    public static string PathFor(string segmentPath) => System.IO.Path.ChangeExtension(segmentPath, ".idx");

    /// <summary>The <paramref name="run"/>-th index file written while the segment was the head.</summary>
    public static string PathFor(string segmentPath, int run) => System.IO.Path.ChangeExtension(segmentPath, $".{run}.idx");

    /// <summary>Writes the entries (in any order) and returns the index; <paramref name="entries"/> is sorted in place.</summary>
    public static SegmentIndexFile Write(IFileSystem fs, string path, List<(GroupKey Key, SegmentEntry Entry)> entries)
    {
        entries.Sort((a, b) => a.Key != b.Key ? a.Key.CompareTo(b.Key) : a.Entry.Lsn.CompareTo(b.Entry.Lsn));
        var fences = new GroupKey[(entries.Count + FenceEvery - 1) / FenceEvery];
        using IFile file = fs.Open(path, FileMode.Create);
        file.SetLength(0);
        var header = new byte[HeaderSize];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(8), entries.Count);
        file.Write(header, 0);
        var chunk = new byte[EntrySize * 1024];
        long offset = HeaderSize;
        for (int start = 0; start < entries.Count; start += 1024)
        {
            int n = Math.Min(1024, entries.Count - start);
            for (int i = 0; i < n; i++)
            {
                (GroupKey key, SegmentEntry entry) = entries[start + i];
                Encode(chunk.AsSpan(i * EntrySize, EntrySize), key, entry);
                if ((start + i) % FenceEvery == 0)
                {
                    fences[(start + i) / FenceEvery] = key;
                }
            }

            file.Write(chunk.AsSpan(0, n * EntrySize), offset);
            offset += n * EntrySize;
        }

        return new SegmentIndexFile(path, entries.Count, fences);
    }

    /// <summary>Appends the group's entries to <paramref name="into"/>, oldest first.</summary>
    public void Collect(IFileSystem fs, GroupKey key, List<SegmentEntry> into)
    {
        // Entries of the key lie after the last fence below it and before the first fence above it.
        int low = LastFenceBelow(key);
        int high = FirstFenceAbove(key);
        long first = (long)Math.Max(low, 0) * FenceEvery;
        long end = Math.Min((long)high * FenceEvery, Count);
        if (end <= first)
        {
            return;
        }

        var buffer = new byte[(end - first) * EntrySize];
        if (_reader.Read(fs, buffer, HeaderSize + first * EntrySize) != buffer.Length)
        {
            throw new WalCorruptionException(Path, HeaderSize + first * EntrySize, "segment index is shorter than its entry count");
        }

        for (int i = 0; i < end - first; i++)
        {
            (GroupKey k, SegmentEntry entry) = Decode(buffer.AsSpan(i * EntrySize, EntrySize));
            if (k == key)
            {
                into.Add(entry);
            }
        }
    }

    private int LastFenceBelow(GroupKey key)
    {
        int lo = 0, hi = _fences.Length; // first fence >= key
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_fences[mid].CompareTo(key) < 0) lo = mid + 1; else hi = mid;
        }

        return lo - 1;
    }

    private int FirstFenceAbove(GroupKey key)
    {
        int lo = 0, hi = _fences.Length;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (_fences[mid].CompareTo(key) <= 0) lo = mid + 1; else hi = mid;
        }

        return lo;
    }

    private static void Encode(Span<byte> target, GroupKey key, SegmentEntry entry)
    {
        BinaryPrimitives.WriteUInt64LittleEndian(target, key.High);
        BinaryPrimitives.WriteUInt64LittleEndian(target[8..], key.Low);
        BinaryPrimitives.WriteInt64LittleEndian(target[16..], entry.Lsn);
        BinaryPrimitives.WriteInt64LittleEndian(target[24..], entry.Slot);
        BinaryPrimitives.WriteInt32LittleEndian(target[32..], entry.Offset);
        BinaryPrimitives.WriteInt32LittleEndian(target[36..], entry.Length);
        target[40] = (byte)entry.Kind;
        target[41..].Clear();
    }

    private static (GroupKey, SegmentEntry) Decode(ReadOnlySpan<byte> source) =>
        (new GroupKey(BinaryPrimitives.ReadUInt64LittleEndian(source), BinaryPrimitives.ReadUInt64LittleEndian(source[8..])),
         new SegmentEntry(
            BinaryPrimitives.ReadInt64LittleEndian(source[16..]),
            (WalRecordKind)source[40],
            BinaryPrimitives.ReadInt64LittleEndian(source[24..]),
            BinaryPrimitives.ReadInt32LittleEndian(source[32..]),
            BinaryPrimitives.ReadInt32LittleEndian(source[36..])));
}

using System.Buffers.Binary;
using System.Text;

namespace OpenReplica.Storage;

/// <summary>
/// Snapshot file layout: "ORSNAP01", u16 groupIdLength, groupId (UTF-8), i64 slot, i64 stamp, i64 dataLength, data,
/// u32 crc32c over everything before it. The group id is inside because the file name is only a hash of it.
/// </summary>
internal static class SnapshotFile
{
    private static ReadOnlySpan<byte> Magic => "ORSNAP01"u8;

    public static byte[] Encode(string groupId, long slot, long stamp, ReadOnlySpan<byte> data)
    {
        int groupBytes = Encoding.UTF8.GetByteCount(groupId);
        var buffer = new byte[8 + 2 + groupBytes + 24 + data.Length + 4];
        Span<byte> span = buffer;
        Magic.CopyTo(span);
        BinaryPrimitives.WriteUInt16LittleEndian(span[8..], (ushort)groupBytes);
        Encoding.UTF8.GetBytes(groupId, span[10..]);
        int p = 10 + groupBytes;
        BinaryPrimitives.WriteInt64LittleEndian(span[p..], slot);
        BinaryPrimitives.WriteInt64LittleEndian(span[(p + 8)..], stamp);
        BinaryPrimitives.WriteInt64LittleEndian(span[(p + 16)..], data.Length);
        data.CopyTo(span[(p + 24)..]);
        BinaryPrimitives.WriteUInt32LittleEndian(span[^4..], Crc32C.Compute(span[..^4]));
        return buffer;
    }

    public static SnapshotContent Decode(string path, ReadOnlySpan<byte> file)
    {
        if (file.Length < 8 + 2 + 24 + 4 || !file[..8].SequenceEqual(Magic))
        {
            throw new WalCorruptionException(path, 0, "bad snapshot header");
        }

        if (BinaryPrimitives.ReadUInt32LittleEndian(file[^4..]) != Crc32C.Compute(file[..^4]))
        {
            throw new WalCorruptionException(path, file.Length - 4, "snapshot checksum mismatch");
        }

        int groupBytes = BinaryPrimitives.ReadUInt16LittleEndian(file[8..]);
        int p = 10 + groupBytes;
        if (p + 24 + 4 > file.Length)
        {
            throw new WalCorruptionException(path, 8, "snapshot group id length out of range");
        }

        long dataLength = BinaryPrimitives.ReadInt64LittleEndian(file[(p + 16)..]);
        if (dataLength != file.Length - (p + 24 + 4))
        {
            throw new WalCorruptionException(path, p + 16, "snapshot data length does not match the file");
        }

        return new SnapshotContent(
            Encoding.UTF8.GetString(file.Slice(10, groupBytes)),
            BinaryPrimitives.ReadInt64LittleEndian(file[p..]),
            BinaryPrimitives.ReadInt64LittleEndian(file[(p + 8)..]),
            file.Slice(p + 24, (int)dataLength).ToArray());
    }
}

internal sealed record SnapshotContent(string GroupId, long Slot, long Stamp, byte[] Data);

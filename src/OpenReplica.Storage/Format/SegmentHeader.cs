using System.Buffers.Binary;

namespace OpenReplica.Storage;

/// <summary>
/// 32-byte segment header. It carries the next LSN at creation so LSNs keep growing even when reclamation has
/// removed every record (snapshot stamps and tombstones compare LSNs across restarts).
/// <code>0 "ORWALSEG", 8 u32 version, 12 u32 reserved, 16 i64 baseLsn, 24 u32 crc32c(0..24), 28 u32 reserved</code>
/// </summary>
internal static class SegmentHeader
{
    public const int Size = 32;
    private const uint Version = 1;
    private static ReadOnlySpan<byte> Magic => "ORWALSEG"u8;

    public static byte[] Create(long baseLsn)
    {
        var header = new byte[Size];
        Magic.CopyTo(header);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(8), Version);
        BinaryPrimitives.WriteInt64LittleEndian(header.AsSpan(16), baseLsn);
        BinaryPrimitives.WriteUInt32LittleEndian(header.AsSpan(24), Crc32C.Compute(header.AsSpan(0, 24)));
        return header;
    }

    public static bool TryRead(ReadOnlySpan<byte> data, out long baseLsn)
    {
        baseLsn = 0;
        if (data.Length < Size || !data[..8].SequenceEqual(Magic)
            || BinaryPrimitives.ReadUInt32LittleEndian(data[8..]) != Version
            || BinaryPrimitives.ReadUInt32LittleEndian(data[24..]) != Crc32C.Compute(data[..24]))
        {
            return false;
        }

        baseLsn = BinaryPrimitives.ReadInt64LittleEndian(data[16..]);
        return true;
    }
}

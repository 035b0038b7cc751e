using System.Buffers.Binary;
using System.Text;

namespace OpenReplica.Storage;

/// <summary>
/// On-disk record layout (little endian):
/// <code>
///  0 u32 bodyLength         bytes after this 8-byte prefix
///  4 u32 crc32c             over bytes 0..4 and the body, so a damaged length is caught too
///  8 i64 lsn                log sequence number: global append order, kept when a record is carried forward
/// 16 u8  kind, u8 flags(0), u16 groupIdLength (UTF-8 bytes)
/// 20 i64 slot, 28 i64 ballotRound, 36 i32 ballotReplica
/// 40 groupId, then payload
/// </code>
/// </summary>
internal static class RecordCodec
{
    public const int PrefixSize = 8;
    public const int FixedBodySize = 32;
    public const int MinRecordSize = PrefixSize + FixedBodySize;
    public const int MaxGroupIdBytes = 1024;

    // A length above this cannot be one of ours; it lets recovery reject garbage without reading gigabytes.
    public const int MaxBodyLength = 1 << 30;

    private const int LsnOffset = 8;

    public static int EncodedSize(in WalRecord record, int groupIdBytes) => MinRecordSize + groupIdBytes + record.Payload.Length;

    /// <summary>Encodes with LSN 0 and no CRC; the writer stamps both with <see cref="Seal"/> once it orders the record.</summary>
    public static byte[] Encode(in WalRecord record)
    {
        int groupBytes = Encoding.UTF8.GetByteCount(record.GroupId);
        var buffer = new byte[EncodedSize(record, groupBytes)];
        Span<byte> span = buffer;
        BinaryPrimitives.WriteUInt32LittleEndian(span, (uint)(buffer.Length - PrefixSize));
        span[16] = (byte)record.Kind;
        span[17] = 0;
        BinaryPrimitives.WriteUInt16LittleEndian(span[18..], (ushort)groupBytes);
        BinaryPrimitives.WriteInt64LittleEndian(span[20..], record.Slot);
        BinaryPrimitives.WriteInt64LittleEndian(span[28..], record.BallotRound);
        BinaryPrimitives.WriteInt32LittleEndian(span[36..], record.BallotReplica);
        Encoding.UTF8.GetBytes(record.GroupId, span[MinRecordSize..]);
        record.Payload.Span.CopyTo(span[(MinRecordSize + groupBytes)..]);
        return buffer;
    }

    public static void Seal(Span<byte> encoded, long lsn)
    {
        BinaryPrimitives.WriteInt64LittleEndian(encoded[LsnOffset..], lsn);
        BinaryPrimitives.WriteUInt32LittleEndian(encoded[4..], Crc32C.Compute(encoded[..4], encoded[PrefixSize..]));
    }

    /// <summary>Decodes the record at the start of <paramref name="data"/>.</summary>
    public static DecodeStatus TryDecode(ReadOnlySpan<byte> data, out DecodedRecord record)
    {
        record = default;
        if (data.Length < PrefixSize)
        {
            return DecodeStatus.Truncated;
        }

        uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(data);
        if (bodyLength < FixedBodySize || bodyLength > MaxBodyLength)
        {
            return DecodeStatus.Invalid;
        }

        int total = PrefixSize + (int)bodyLength;
        if (data.Length < total)
        {
            return DecodeStatus.Truncated;
        }

        uint stored = BinaryPrimitives.ReadUInt32LittleEndian(data[4..]);
        if (stored != Crc32C.Compute(data[..4], data[PrefixSize..total]))
        {
            return DecodeStatus.Invalid;
        }

        var kind = (WalRecordKind)data[16];
        int groupBytes = BinaryPrimitives.ReadUInt16LittleEndian(data[18..]);
        if (!Enum.IsDefined(kind) || groupBytes == 0 || MinRecordSize + groupBytes > total)
        {
            return DecodeStatus.Invalid;
        }

        record = new DecodedRecord(
            Lsn: BinaryPrimitives.ReadInt64LittleEndian(data[LsnOffset..]),
            Kind: kind,
            GroupId: Encoding.UTF8.GetString(data.Slice(MinRecordSize, groupBytes)),
            Slot: BinaryPrimitives.ReadInt64LittleEndian(data[20..]),
            BallotRound: BinaryPrimitives.ReadInt64LittleEndian(data[28..]),
            BallotReplica: BinaryPrimitives.ReadInt32LittleEndian(data[36..]),
            PayloadOffset: MinRecordSize + groupBytes,
            Length: total);
        return DecodeStatus.Ok;
    }
}

internal enum DecodeStatus
{
    Ok,
    Truncated,
    Invalid,
}

/// <summary>A decoded header; the payload stays in the source buffer at [PayloadOffset, Length) relative to the record.</summary>
internal readonly record struct DecodedRecord(
    long Lsn,
    WalRecordKind Kind,
    string GroupId,
    long Slot,
    long BallotRound,
    int BallotReplica,
    int PayloadOffset,
    int Length)
{
    public WalRecord ToRecord(string groupId, ReadOnlySpan<byte> recordBytes) =>
        new(groupId, Kind, Slot, BallotRound, BallotReplica, recordBytes[PayloadOffset..Length].ToArray());
}

using System.Text;
using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

public sealed class FormatTests
{
    [Fact]
    public void Crc32C_matches_the_standard_check_value()
    {
        // The CRC-32C (Castagnoli) check value from the CRC catalogue.
        Assert.Equal(0xE3069283u, Crc32C.Compute("123456789"u8));
        Assert.Equal(Crc32C.Compute("123456789"u8), Crc32C.Compute("1234"u8, "56789"u8));
    }

    [Fact]
    public void A_record_round_trips_and_its_checksum_covers_the_length()
    {
        var record = new WalRecord("grain/ünïcode", WalRecordKind.Accept, -3, long.MaxValue, 7, Encoding.UTF8.GetBytes("payload"));
        byte[] bytes = RecordCodec.Encode(record);
        RecordCodec.Seal(bytes, 42);

        Assert.Equal(DecodeStatus.Ok, RecordCodec.TryDecode(bytes, out DecodedRecord decoded));
        Assert.Equal(42, decoded.Lsn);
        Assert.Equal(Logs.Key(record), Logs.Key(decoded.ToRecord(decoded.GroupId, bytes)));

        Assert.Equal(DecodeStatus.Truncated, RecordCodec.TryDecode(bytes.AsSpan(0, bytes.Length - 1), out _));
        bytes[0] ^= 1;
        Assert.NotEqual(DecodeStatus.Ok, RecordCodec.TryDecode(bytes, out _));
    }
}

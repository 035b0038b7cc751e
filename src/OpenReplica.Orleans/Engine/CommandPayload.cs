using System.Buffers.Binary;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// What a grain call becomes in the log: the leader's clock at proposal (so <c>Replicated.Now</c> is the same on
/// every replay) followed by the serialized <c>IInvokable</c>.
/// </summary>
internal static class CommandPayload
{
    public static byte[] Encode(DateTimeOffset timestamp, byte[] invokable)
    {
        var payload = new byte[8 + invokable.Length];
        BinaryPrimitives.WriteInt64LittleEndian(payload, timestamp.UtcTicks);
        invokable.CopyTo(payload, 8);
        return payload;
    }

    public static (DateTimeOffset Timestamp, byte[] Invokable) Decode(byte[] payload)
    {
        if (payload.Length < 8) throw new FormatException($"command payload of {payload.Length} bytes is too short");
        var ticks = BinaryPrimitives.ReadInt64LittleEndian(payload);
        return (new DateTimeOffset(ticks, TimeSpan.Zero), payload[8..]);
    }

    /// <summary>A unique, increasing position per command: the slot, then the command's index in its batch.</summary>
    public static long Position(long slot, int index) => checked(slot * 65_536 + index);
}

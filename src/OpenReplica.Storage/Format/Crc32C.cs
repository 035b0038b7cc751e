using System.Buffers.Binary;
using System.Numerics;

namespace OpenReplica.Storage;

/// <summary>
/// CRC-32C (Castagnoli). System.IO.Hashing 10.0.0 only ships Crc32 (IEEE) and Crc64, so this uses the BCL's
/// BitOperations.Crc32C, which maps to the SSE4.2 / ARMv8 CRC instructions and has a table fallback elsewhere.
/// </summary>
internal static class Crc32C
{
    public static uint Compute(ReadOnlySpan<byte> data) => ~Update(~0u, data);

    public static uint Compute(ReadOnlySpan<byte> first, ReadOnlySpan<byte> second) => ~Update(Update(~0u, first), second);

    private static uint Update(uint crc, ReadOnlySpan<byte> data)
    {
        while (data.Length >= sizeof(ulong))
        {
            crc = BitOperations.Crc32C(crc, BinaryPrimitives.ReadUInt64LittleEndian(data));
            data = data[sizeof(ulong)..];
        }

        foreach (byte b in data)
        {
            crc = BitOperations.Crc32C(crc, b);
        }

        return crc;
    }
}

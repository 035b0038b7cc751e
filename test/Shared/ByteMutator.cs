using System.Buffers.Binary;

namespace OpenReplica.Testing;

/// <summary>
/// A seeded, structure-aware mutator for decoder fuzzing (libFuzzer's mutation set, made reproducible): starts from
/// valid encodings and applies one to four of bit flips, random bytes, boundary integers written over 1/4/8-byte
/// fields at any offset (lengths, counts and slots live there), truncation, extension, deletion, duplication of a
/// range, and splicing with another valid sample. One seed gives one sequence of inputs; a failure prints it.
/// </summary>
internal sealed class ByteMutator(int seed)
{
    private static readonly long[] Boundaries =
    [
        0, 1, -1, 2, 127, 128, 255, 256, short.MaxValue, ushort.MaxValue, int.MaxValue, int.MinValue, uint.MaxValue,
        long.MaxValue, long.MinValue, 1 << 20, 1 << 30,
    ];

    private readonly Random _random = new(seed);

    public Random Random => _random;

    /// <summary>A mutated copy of <paramref name="input"/>; <paramref name="corpus"/> provides splice partners.</summary>
    public byte[] Mutate(byte[] input, IReadOnlyList<byte[]> corpus)
    {
        var bytes = new List<byte>(input);
        int rounds = 1 + _random.Next(4);
        for (int i = 0; i < rounds; i++) MutateOnce(bytes, corpus);
        return [.. bytes];
    }

    private void MutateOnce(List<byte> bytes, IReadOnlyList<byte[]> corpus)
    {
        int at = bytes.Count == 0 ? 0 : _random.Next(bytes.Count);
        switch (_random.Next(9))
        {
            case 0 when bytes.Count > 0:
                bytes[at] ^= (byte)(1 << _random.Next(8));
                break;
            case 1 when bytes.Count > 0:
                bytes[at] = (byte)_random.Next(256);
                break;
            case 2:
                WriteBoundary(bytes, at);
                break;
            case 3 when bytes.Count > 0:
                bytes.RemoveRange(at, bytes.Count - at); // truncate
                break;
            case 4:
                var extra = new byte[1 + _random.Next(16)];
                _random.NextBytes(extra);
                bytes.InsertRange(at, extra);
                break;
            case 5 when bytes.Count > 0:
                bytes.RemoveRange(at, Math.Min(bytes.Count - at, 1 + _random.Next(16)));
                break;
            case 6 when bytes.Count > 0:
                int length = Math.Min(bytes.Count - at, 1 + _random.Next(32));
                bytes.InsertRange(_random.Next(bytes.Count), bytes.GetRange(at, length));
                break;
            case 7 when corpus.Count > 0:
                var other = corpus[_random.Next(corpus.Count)];
                int from = _random.Next(other.Length + 1);
                bytes.RemoveRange(at, bytes.Count - at);
                bytes.AddRange(other.AsSpan(from).ToArray());
                break;
            default:
                if (bytes.Count > 0) bytes[at] = (byte)~bytes[at];
                break;
        }
    }

    private void WriteBoundary(List<byte> bytes, int at)
    {
        long value = Boundaries[_random.Next(Boundaries.Length)];
        if (_random.Next(4) == 0) value += _random.Next(-2, 3);
        int width = _random.Next(3) switch { 0 => 1, 1 => 4, _ => 8 };
        Span<byte> field = stackalloc byte[8];
        BinaryPrimitives.WriteInt64LittleEndian(field, value);
        for (int i = 0; i < width && at + i < bytes.Count; i++) bytes[at + i] = field[i];
    }
}

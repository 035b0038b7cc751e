namespace OpenReplica.Consensus;

/// <summary>
/// SplitMix64: a tiny seeded generator whose sequence is fixed by its seed on every platform and .NET version,
/// so a simulator seed replays bit-for-bit (System.Random's algorithm is not promised to stay the same).
/// </summary>
public sealed class DeterministicRandom(ulong seed)
{
    private ulong _state = seed;

    /// <summary>The next 64 random bits.</summary>
    public ulong NextULong()
    {
        ulong z = _state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A number in [min, max).</summary>
    public int Next(int min, int max)
    {
        Invariant.Assert(max > min);
        return min + (int)(NextULong() % (ulong)(max - min));
    }

    /// <summary>A number in [<paramref name="min"/>, <paramref name="max"/>), uniform up to a negligible bias.</summary>
    public long NextLong(long min, long max)
    {
        Invariant.Assert(max > min);
        return min + (long)(NextULong() % (ulong)(max - min));
    }

    /// <summary>True with probability <paramref name="p"/>.</summary>
    public bool Chance(double p) => NextDouble() < p;

    /// <summary>A number in [0, 1) with 53 random bits.</summary>
    public double NextDouble() => (NextULong() >> 11) * (1.0 / (1UL << 53));
}

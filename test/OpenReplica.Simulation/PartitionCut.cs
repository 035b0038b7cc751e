using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>The partition both simulators inject: a random side is cut off from the rest, both ways or one way.</summary>
internal static class PartitionCut
{
    /// <summary>Adds the blocked (from, to) pairs of a new cut to <paramref name="blocked"/>; returns its side and whether it is one-way.</summary>
    public static (HashSet<long> Side, bool OneWay) Draw(DeterministicRandom random, IReadOnlyList<long> ids, HashSet<(long From, long To)> blocked)
    {
        var side = ids.Where(_ => random.Chance(0.5)).ToHashSet();
        bool oneWay = random.Chance(0.3);
        foreach (long a in ids)
        {
            foreach (long b in ids)
            {
                if (side.Contains(a) && !side.Contains(b)) blocked.Add((a, b));
                if (!oneWay && !side.Contains(a) && side.Contains(b)) blocked.Add((a, b));
            }
        }
        return (side, oneWay);
    }
}

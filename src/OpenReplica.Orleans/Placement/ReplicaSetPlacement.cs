namespace OpenReplica.Orleans;

/// <summary>A roster member as placement sees it: its replica id and the fault domain its silo declared (null: none).</summary>
internal readonly record struct RosterMember(long Id, string? Domain);

/// <summary>
/// Which roster members hold a group's replicas: its top R members by rendezvous (highest random weight) hashing of
/// the grain's hash with each member's id, taking at most one member per fault domain while there are enough
/// domains. Pure (no Orleans, no clock, no allocation on the hot path), so the placement simulation
/// (test/Benchmarks/PlacementSim) runs the very same code as the silos.
/// Rendezvous hashing needs no partition table and moves about R/N of the groups when a member joins or leaves:
/// a group's set changes only if the member that came or went ranks among its top R.
/// </summary>
internal static class ReplicaSetPlacement
{
    /// <summary>
    /// The group's replica set, highest weight first (the activation goes to the placing silo when it is one of them, else to the first live one).
    /// With at least <paramref name="replicas"/> distinct domains, every member chosen is the heaviest of its domain
    /// and no two share one. With fewer, every domain still gets one replica and the remaining replicas go to the
    /// heaviest members left, whatever their domain (losing such a domain can then take a majority of a group).
    /// A member without a domain counts as a domain of its own.
    /// </summary>
    public static long[] Choose(uint grainHash, IReadOnlyList<RosterMember> members, int replicas)
    {
        if (replicas > members.Count)
        {
            throw new InvalidOperationException(
                $"a group wants {replicas} replicas but the roster has only {members.Count} members (ReplicatedGrainsOptions.ReplicationFactor).");
        }
        var ids = new long[members.Count];
        var domains = new int[members.Count];
        var names = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < members.Count; i++)
        {
            ids[i] = members[i].Id;
            string name = members[i].Domain ?? "\0" + members[i].Id; // no domain: a domain of its own
            if (!names.TryGetValue(name, out domains[i])) names[name] = domains[i] = names.Count;
        }
        Span<int> chosen = stackalloc int[replicas];
        ChooseIndexes(grainHash, ids, domains, names.Count, chosen);
        var result = new long[replicas];
        for (int i = 0; i < replicas; i++) result[i] = ids[chosen[i]];
        return result;
    }

    /// <summary>
    /// The allocation-free core of <see cref="Choose"/>: members as ids with domain indexes in [0, domainCount);
    /// writes the indexes of the chosen members into <paramref name="chosen"/> (its length is the replica count),
    /// heaviest first.
    /// </summary>
    public static void ChooseIndexes(uint grainHash, ReadOnlySpan<long> ids, ReadOnlySpan<int> domains, int domainCount, Span<int> chosen)
    {
        int replicas = chosen.Length;
        Span<int> head = domainCount <= 1024 ? stackalloc int[domainCount] : new int[domainCount];
        Span<ulong> headWeight = domainCount <= 1024 ? stackalloc ulong[domainCount] : new ulong[domainCount];
        head.Fill(-1);
        for (int i = 0; i < ids.Length; i++)
        {
            ulong w = Weight(grainHash, ids[i]);
            int d = domains[i];
            if (head[d] < 0 || Heavier(w, ids[i], headWeight[d], ids[head[d]]))
            {
                head[d] = i;
                headWeight[d] = w;
            }
        }
        // The heaviest domain heads; with enough domains they are the answer.
        Span<ulong> weights = stackalloc ulong[replicas];
        int count = 0;
        for (int d = 0; d < domainCount; d++)
        {
            if (head[d] >= 0) Insert(chosen, weights, ref count, head[d], headWeight[d], ids);
        }
        if (count == replicas) return;
        // Too few domains: the heaviest members that are not heads fill the rest.
        int heads = count;
        for (int i = 0; i < ids.Length; i++)
        {
            if (head[domains[i]] == i) continue;
            InsertAfter(chosen, weights, ref count, heads, i, Weight(grainHash, ids[i]), ids);
        }
        // Heaviest first overall.
        for (int a = 1; a < count; a++)
        {
            for (int b = a; b > 0 && Heavier(weights[b], ids[chosen[b]], weights[b - 1], ids[chosen[b - 1]]); b--)
            {
                (chosen[b], chosen[b - 1]) = (chosen[b - 1], chosen[b]);
                (weights[b], weights[b - 1]) = (weights[b - 1], weights[b]);
            }
        }
    }

    /// <summary>Keeps the <c>chosen.Length</c> heaviest candidates, sorted heaviest first.</summary>
    private static void Insert(Span<int> chosen, Span<ulong> weights, ref int count, int index, ulong weight, ReadOnlySpan<long> ids) =>
        InsertAfter(chosen, weights, ref count, 0, index, weight, ids);

    /// <summary>Like <see cref="Insert"/>, for positions from <paramref name="from"/> on (earlier ones are fixed).</summary>
    private static void InsertAfter(Span<int> chosen, Span<ulong> weights, ref int count, int from, int index, ulong weight, ReadOnlySpan<long> ids)
    {
        int at = count;
        while (at > from && Heavier(weight, ids[index], weights[at - 1], ids[chosen[at - 1]])) at--;
        if (at >= chosen.Length) return;
        int last = Math.Min(count, chosen.Length - 1);
        for (int k = last; k > at; k--)
        {
            chosen[k] = chosen[k - 1];
            weights[k] = weights[k - 1];
        }
        chosen[at] = index;
        weights[at] = weight;
        if (count < chosen.Length) count++;
    }

    /// <summary>The rendezvous weight of a member for a grain: a SplitMix64 mix of both, stable across processes.</summary>
    public static ulong Weight(uint grainHash, long memberId) => Mix((((ulong)grainHash << 32) | (uint)memberId) + 0x9E3779B97F4A7C15UL);

    private static bool Heavier(ulong weight, long id, ulong otherWeight, long otherId) =>
        weight > otherWeight || (weight == otherWeight && id < otherId);

    private static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

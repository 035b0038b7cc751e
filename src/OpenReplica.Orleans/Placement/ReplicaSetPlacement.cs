namespace OpenReplica.Orleans;

/// <summary>A roster member as placement sees it: its replica id and the fault domain its silo declared (null: none).</summary>
internal readonly record struct RosterMember(long Id, string? Domain);

/// <summary>
/// Which roster members hold a group's replicas: its top R members by rendezvous (highest random weight) hashing of
/// the grain's hash with each member's id, taking at most one member per fault domain while there are enough
/// domains. Pure (no Orleans, no clock), so the placement simulation runs the very same code as the silos.
/// Rendezvous hashing needs no partition table and moves about R/N of the groups when a member joins or leaves:
/// a group's set changes only if the member that came or went ranks among its top R.
/// </summary>
internal static class ReplicaSetPlacement
{
    /// <summary>
    /// The group's replica set, highest weight first (the first live one hosts the activation, i.e. leads).
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
        // One pass: the heaviest member of each domain. With enough domains, the answer is the R heaviest of those.
        var best = new Dictionary<string, (ulong Weight, long Id)>(StringComparer.Ordinal);
        foreach (var member in members)
        {
            ulong weight = Weight(grainHash, member.Id);
            string domain = member.Domain ?? "#" + member.Id;
            if (!best.TryGetValue(domain, out var known) || Heavier(weight, member.Id, known.Weight, known.Id)) best[domain] = (weight, member.Id);
        }
        var heads = best.Values.ToList();
        heads.Sort(static (a, b) => Heavier(a.Weight, a.Id, b.Weight, b.Id) ? -1 : 1);
        if (heads.Count >= replicas) return [.. heads.Take(replicas).Select(h => h.Id)];

        // Too few domains: one per domain first, then the heaviest of the rest.
        var chosen = heads.Select(h => h.Id).ToList();
        var rest = members.Where(m => !chosen.Contains(m.Id)).Select(m => (Weight: Weight(grainHash, m.Id), m.Id)).ToList();
        rest.Sort(static (a, b) => Heavier(a.Weight, a.Id, b.Weight, b.Id) ? -1 : 1);
        chosen.AddRange(rest.Take(replicas - chosen.Count).Select(r => r.Id));
        return [.. chosen.Select(id => (Weight: Weight(grainHash, id), Id: id)).OrderByDescending(c => c.Weight).ThenBy(c => c.Id).Select(c => c.Id)];
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

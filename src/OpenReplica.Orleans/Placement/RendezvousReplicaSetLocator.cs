using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Temporary stand-in for the meta group's partition map: picks the grain's replicas among the silos Orleans
/// membership currently calls active, by rendezvous (highest random weight) hashing of the grain id, so a
/// membership change moves only the grains whose set contained the silo that changed.
/// Not a safe replica-set source for consensus (membership views are hints, never votes).
/// </summary>
internal sealed class RendezvousReplicaSetLocator(IClusterMembershipService membership) : IReplicaSetLocator
{
    public ValueTask<IReadOnlyList<SiloAddress>> GetReplicaSilosAsync(GrainId grainId, int replicas)
    {
        var grainHash = grainId.GetUniformHashCode();
        var ranked = membership.CurrentSnapshot.Members.Values
            .Where(member => member.Status == SiloStatus.Active)
            .Select(member => member.SiloAddress)
            .OrderByDescending(silo => Weight(grainHash, (uint)silo.GetConsistentHashCode()))
            .ThenBy(silo => silo.ToParsableString(), StringComparer.Ordinal)
            .Take(replicas)
            .ToArray();
        return new ValueTask<IReadOnlyList<SiloAddress>>(ranked);
    }

    /// <summary>SplitMix64 mix of both hashes: stable across processes and platforms.</summary>
    internal static ulong Weight(uint grainHash, uint siloHash) => ReplicaSetPlacement.Weight(grainHash, siloHash);
}

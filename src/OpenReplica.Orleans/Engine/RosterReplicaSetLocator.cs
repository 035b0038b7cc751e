using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Places a grain on the silos that hold its group's replicas, in the grain's rendezvous preference order, so
/// different grains prefer different leaders. Replicas whose silo is down are skipped (their address is unknown).
/// </summary>
internal sealed class RosterReplicaSetLocator(ReplicaRoster roster) : IReplicaSetLocator
{
    public async ValueTask<IReadOnlyList<SiloAddress>> GetReplicaSilosAsync(GrainId grainId, int replicas)
    {
        var config = await roster.ConfigForAsync(grainId, replicas, CancellationToken.None);
        var silos = Silos();
        if (silos.Count == 0)
        {
            await roster.RefreshAddressesAsync();
            silos = Silos();
        }
        if (silos.Count == 0)
        {
            // None of the replica set is live: this silo's roster may be stale (a silo outside the roster learns it by
            // asking; the meta group tells members only). Learn the newest and place by it.
            await roster.LearnNewerFromPeersAsync();
            config = roster.TargetConfigFor(grainId, replicas) ?? config;
            silos = Silos();
        }
        return silos;

        List<SiloAddress> Silos() => roster.PreferenceOrder(grainId, config)
            .Select(roster.SiloOf)
            .OfType<SiloAddress>()
            .ToList();
    }

    public bool IsLeaving(SiloAddress silo) => roster.IsLeaving(silo);
}

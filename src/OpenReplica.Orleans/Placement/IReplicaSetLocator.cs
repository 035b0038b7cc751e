using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Seam for the consensus layer: which silos hold a grain's replicas. The default is
/// <see cref="RendezvousReplicaSetLocator"/>; the meta group's partition map replaces it.
/// </summary>
public interface IReplicaSetLocator
{
    /// <summary>
    /// Returns the silos holding the replicas of <paramref name="grainId"/>, most preferred first
    /// (the activation, i.e. the leader, is placed on the placing silo if it is one of them, else on the first live one).
    /// </summary>
    ValueTask<IReadOnlyList<SiloAddress>> GetReplicaSilosAsync(GrainId grainId, int replicas);

    /// <summary>
    /// Whether <paramref name="silo"/> is handing its replicas over in a graceful stop: it starts no new activation,
    /// so placement prefers any other replica silo.
    /// </summary>
    bool IsLeaving(SiloAddress silo) => false;
}

using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace OpenReplica.Orleans;

/// <summary>
/// Places a replicated grain's activation on the first live, compatible silo of its replica set, so the
/// activation (the Paxos leader) has the log locally. A placement hint is honoured only if it names a replica silo.
/// </summary>
internal sealed class ReplicatedPlacementDirector(IReplicaSetLocator locator, IOptions<ReplicatedGrainsOptions> options) : IPlacementDirector
{
    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var replicas = strategy is ReplicatedPlacement { Replicas: > 0 } placement ? placement.Replicas : options.Value.ReplicationFactor;
        var replicaSilos = await locator.GetReplicaSilosAsync(target.GrainIdentity, replicas);
        var compatible = context.GetCompatibleSilos(target);

        if (IPlacementDirector.GetPlacementHint(target.RequestContextData, compatible) is { } hint && replicaSilos.Contains(hint))
        {
            return hint;
        }

        foreach (var silo in replicaSilos)
        {
            if (Array.IndexOf(compatible, silo) >= 0)
            {
                return silo;
            }
        }

        throw new ReplicaSetUnavailableException(
            $"Cannot place replicated grain {target.GrainIdentity}: none of its {replicas} replica silos "
            + $"[{string.Join(", ", replicaSilos)}] is alive and compatible (compatible silos: [{string.Join(", ", compatible)}]).");
    }
}

using Microsoft.Extensions.Options;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace OpenReplica.Orleans;

/// <summary>
/// Places a replicated grain's activation on a live, compatible silo of its replica set, so the activation (the Paxos
/// leader) has the log locally: the silo placing it (where the call arrived) if it holds a replica, else the first
/// live replica silo. A placement hint is honoured only if it names a replica silo. Silos in a graceful stop, and the
/// placing silo itself while its write-ahead log is failing, are taken only when no other replica silo is live.
/// </summary>
internal sealed class ReplicatedPlacementDirector(IReplicaSetLocator locator, IOptions<ReplicatedGrainsOptions> options,
    ILocalReplicaHealth health) : IPlacementDirector
{
    public async Task<SiloAddress> OnAddActivation(PlacementStrategy strategy, PlacementTarget target, IPlacementContext context)
    {
        var replicas = strategy is ReplicatedPlacement { Replicas: > 0 } placement ? placement.Replicas : options.Value.ReplicationFactor;
        var replicaSilos = await locator.GetReplicaSilosAsync(target.GrainIdentity, replicas);
        var compatible = context.GetCompatibleSilos(target);
        // A silo whose log is failing, or whose replicas still guard leases they may have promised before a restart,
        // knows it of itself only; an activation that another silo places there steps aside before it runs
        // (ConsensusCallReplicator), and its forwarded call is placed here again, by that silo.
        bool localFit = health.UnfitReason is null;

        if (IPlacementDirector.GetPlacementHint(target.RequestContextData, compatible) is { } hint && replicaSilos.Contains(hint)
            && (localFit || !hint.Equals(context.LocalSilo)))
        {
            return hint;
        }

        // Like Orleans' default placement of plain grains: the silo that received the call (for a client's call, its
        // gateway) hosts the activation when it holds a replica, so calls run where they arrive, with no hop between
        // silos. Leadership follows the activation (its replica campaigns), so any live replica silo may host it.
        if (localFit && replicaSilos.Contains(context.LocalSilo) && Array.IndexOf(compatible, context.LocalSilo) >= 0 && !locator.IsLeaving(context.LocalSilo))
        {
            return context.LocalSilo;
        }

        // A silo in a graceful stop, or this one with a failing log, only if no other replica silo is live (a leaving
        // silo forwards the calls once its groups have moved).
        SiloAddress? unfit = null;
        foreach (var silo in replicaSilos)
        {
            if (Array.IndexOf(compatible, silo) < 0) continue;
            if (!locator.IsLeaving(silo) && (localFit || !silo.Equals(context.LocalSilo))) return silo;
            unfit ??= silo;
        }
        if (unfit is not null) return unfit;

        throw new ReplicaSetUnavailableException(
            $"Cannot place replicated grain {target.GrainIdentity}: none of its {replicas} replica silos "
            + $"[{string.Join(", ", replicaSilos)}] is alive and compatible (compatible silos: [{string.Join(", ", compatible)}]).");
    }
}

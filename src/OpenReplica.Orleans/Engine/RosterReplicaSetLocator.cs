using OpenReplica.Consensus;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Places a grain on the silos that hold its group's replicas, in the grain's rendezvous preference order, so
/// different grains prefer different leaders. Replicas whose silo is down are skipped (their address is unknown).
/// </summary>
internal sealed class RosterReplicaSetLocator(ReplicaRoster roster) : IReplicaSetLocator
{
    /// <summary>
    /// How long placement waits for the replica roster to form (a starting cluster) before it refuses the call with a
    /// retryable <see cref="ReplicaSetUnavailableException"/> that says why; shorter than a client's response timeout
    /// (Orleans' default 30 s, the test kit's 7 s), so the caller's retries see the reason. Unbounded, a cluster started with fewer silos
    /// than ReplicationFactor held each call until Orleans' own placement timeout, whose exception (Polly's) the caller
    /// then received as an unreadable serialization error 30 s later (session 39).
    /// </summary>
    internal static readonly TimeSpan RosterWait = TimeSpan.FromSeconds(3);

    public async ValueTask<IReadOnlyList<SiloAddress>> GetReplicaSilosAsync(GrainId grainId, int replicas)
    {
        ClusterConfig config;
        using (var wait = new CancellationTokenSource(RosterWait))
        {
            try
            {
                config = await roster.ConfigForAsync(grainId, replicas, wait.Token);
            }
            catch (OperationCanceledException) when (wait.IsCancellationRequested)
            {
                throw new ReplicaSetUnavailableException($"Cannot place replicated grain {grainId}: {roster.DescribeFormation()}.");
            }
        }
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

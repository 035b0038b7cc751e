using OpenReplica.LoadTest;
using OpenReplica.Orleans;

namespace OpenReplica.Chaos;

/// <summary>
/// Finds the silo that leads the workload's grains, through the public status API
/// (<see cref="IReplicatedClusterStatus"/>, what <c>openreplica status</c> shows): the silo whose replicas lead the
/// most of the groups the workloads own, or a preferred silo when it leads any of them. Silos a fault may not hit (the
/// membership holder of a localhost cluster) are left out.
/// </summary>
internal static class LeaderFinder
{
    public sealed record Target(int Silo, bool IsLeader, IReadOnlyList<string> Groups);

    public static async Task<Target> FindAsync(ProcessCluster cluster, IReadOnlyList<IChaosWorkload> workloads, IReadOnlySet<int> targetable, Random random,
        int? prefer = null)
    {
        try
        {
            var status = await cluster.Client.GetReplicatedClusterStatusAsync(TimeSpan.FromSeconds(3)).WaitAsync(TimeSpan.FromSeconds(10));
            var led = status.Leaders
                .Where(l => workloads.Any(w => w.Owns(l.Group)))
                .Select(l => (Silo: cluster.IndexOf(l.Silo), l.Group))
                .Where(l => l.Silo >= 0)
                .GroupBy(l => l.Silo)
                .OrderByDescending(g => g.Key == prefer).ThenByDescending(g => g.Count()).ThenBy(g => g.Key)
                .ToList();
            if (led.FirstOrDefault(g => targetable.Contains(g.Key)) is { } best)
                return new Target(best.Key, true, [.. best.Select(l => l.Group)]);
        }
        catch (Exception)
        {
            // Status unavailable right now (a silo is restarting): fall back to a random silo, reported as not the leader.
        }
        var candidates = targetable.Order().ToArray();
        return new Target(candidates[random.Next(candidates.Length)], false, []);
    }
}

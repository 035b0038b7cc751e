using System.Diagnostics;
using OpenReplica.Orleans;
using Orleans.Runtime;

namespace OpenReplica.LoadTest.ScaleOut;

/// <summary>How long a bounded wait took, whether it ended as wanted, and the last state seen (for the report when it did not).</summary>
internal sealed record WaitResult(bool Reached, TimeSpan Took, string LastState);

/// <summary>
/// The cluster as the library's status API (<see cref="IReplicatedClusterStatus"/>, what <c>openreplica status</c>
/// prints) and Orleans' management grain report it: the roster, pending rebalances, each group's configuration
/// (as its leader holds it) and the activations per silo.
/// </summary>
internal sealed class ClusterView(IClusterClient client)
{
    /// <summary>Each silo's answer may take this long (a silo describes up to 10,000 groups, on a busy machine).</summary>
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(15);

    private static readonly TimeSpan PollEvery = TimeSpan.FromSeconds(2);

    public async Task<ReplicatedClusterStatus?> StatusAsync()
    {
        try
        {
            return await client.GetReplicatedClusterStatusAsync(AskTimeout);
        }
        catch (Exception e) when (e is TimeoutException or OrleansException or SiloUnavailableException)
        {
            return null;
        }
    }

    /// <summary>
    /// Waits until the roster is exactly the replicas of <paramref name="liveSilos"/> (addresses), every silo answered
    /// and knows that roster, and, with <paramref name="rebalanced"/>, no silo has a rebalance pending.
    /// </summary>
    public async Task<WaitResult> WaitAsync(IReadOnlySet<string> liveSilos, bool rebalanced, TimeSpan bound)
    {
        var clock = Stopwatch.StartNew();
        string last = "no status answer yet";
        while (true)
        {
            if (await StatusAsync() is { } status)
            {
                last = Describe(status);
                if (RosterIs(status, liveSilos) && (!rebalanced || !status.RebalancePending)) return new WaitResult(true, clock.Elapsed, last);
            }
            if (clock.Elapsed > bound) return new WaitResult(false, clock.Elapsed, last);
            await Task.Delay(PollEvery);
        }
    }

    private static bool RosterIs(ReplicatedClusterStatus status, IReadOnlySet<string> liveSilos) =>
        status.Unreachable.Length == 0
        && status.Roster.Length == liveSilos.Count
        && status.Roster.All(m => m.Live && m.Silo is not null && liveSilos.Contains(m.Silo))
        && status.Silos.Length == liveSilos.Count
        && status.Silos.All(s => s.RosterVersion == status.RosterVersion);

    /// <summary>One line: roster version and members, per silo its roster version, rebalanced version and misplaced groups.</summary>
    public static string Describe(ReplicatedClusterStatus status) =>
        $"roster v{status.RosterVersion} of {status.Roster.Length} ({status.Roster.Count(m => m.Live)} live); " +
        string.Join(", ", status.Silos.Select(s => $"{s.ReplicaId}: v{s.RosterVersion}/rebalanced v{s.RebalancedRosterVersion}, {s.GroupsMisplaced} misplaced")) +
        (status.Unreachable.Length > 0 ? $"; unreachable: {string.Join("; ", status.Unreachable)}" : "");

    /// <summary>
    /// Each group of <paramref name="groupPrefix"/> with the members of its configuration, as its leader reports it (a
    /// group reported by two leaders, one of them stale, counts with the higher commit index).
    /// </summary>
    public static Dictionary<string, long[]> Configurations(ReplicatedClusterStatus status, string groupPrefix) =>
        status.Leaders
            .Where(l => l.Group.StartsWith(groupPrefix, StringComparison.Ordinal))
            .GroupBy(l => l.Group, StringComparer.Ordinal)
            .ToDictionary(g => g.Key, g => g.MaxBy(l => l.CommitIndex)!.Members.Order().ToArray(), StringComparer.Ordinal);

    /// <summary>Activations of the replicated counter grain per silo address (Orleans' management grain).</summary>
    public async Task<Dictionary<string, int>> ActivationsAsync()
    {
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                var stats = await client.GetGrain<IManagementGrain>(0).GetSimpleGrainStatistics();
                return stats
                    .Where(s => s.GrainType.Contains(nameof(ReplicatedCounterGrain), StringComparison.OrdinalIgnoreCase))
                    .GroupBy(s => s.SiloAddress.ToString())
                    .ToDictionary(g => g.Key, g => g.Sum(s => s.ActivationCount));
            }
            catch (TimeoutException) when (attempt < 3)
            {
            }
        }
    }
}

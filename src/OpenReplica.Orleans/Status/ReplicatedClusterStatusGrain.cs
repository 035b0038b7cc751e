using Orleans.Concurrency;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Aggregates the cluster status on whichever silo receives the call: asks every active silo's
/// <see cref="ISiloStatusService"/> in parallel (each bounded by the caller's timeout) and joins the answers.
/// </summary>
[StatelessWorker(1)]
internal sealed class ReplicatedClusterStatusGrain(
    IClusterMembershipService membership,
    SiloStatusServiceClient services,
    TimeProvider time) : Grain, IReplicatedClusterStatus
{
    public async Task<ReplicatedClusterStatus> GetStatusAsync(TimeSpan timeout)
    {
        var silos = membership.CurrentSnapshot.Members.Values
            .Where(m => m.Status == SiloStatus.Active)
            .Select(m => m.SiloAddress)
            .OrderBy(s => s.ToString(), StringComparer.Ordinal)
            .ToList();
        var answers = await Task.WhenAll(silos.Select(s => AskAsync(s, timeout)));
        var reports = answers.Where(a => a.Report is not null).Select(a => a.Report!).ToList();
        return Aggregate(time.GetUtcNow(), reports, [.. answers.Where(a => a.Error is not null).Select(a => $"{a.Silo}: {a.Error}")]);
    }

    private async Task<(SiloAddress Silo, SiloStatusReport? Report, string? Error)> AskAsync(SiloAddress silo, TimeSpan timeout)
    {
        try
        {
            return (silo, await services.For(silo).GetReportAsync().WaitAsync(timeout), null);
        }
        catch (Exception e)
        {
            return (silo, null, e is TimeoutException ? $"no answer within {timeout.TotalSeconds:0.#} s" : e.Message);
        }
    }

    /// <summary>Joins the silos' reports: the newest roster wins; a group's leader judges its followers' lag.</summary>
    internal static ReplicatedClusterStatus Aggregate(DateTimeOffset takenAt, IReadOnlyList<SiloStatusReport> reports, string[] unreachable)
    {
        var newest = reports.Where(r => r.Silo.RosterVersion >= 0).MaxBy(r => r.Silo.RosterVersion);
        var siloOf = reports.ToDictionary(r => r.Silo.ReplicaId, r => r);
        var roster = (newest?.RosterMembers ?? [])
            .Select(id => new RosterMemberStatus(id, siloOf.GetValueOrDefault(id)?.Silo.Silo, siloOf.ContainsKey(id)))
            .ToArray();

        var leaders = new List<GroupLeaderStatus>();
        var lagging = new List<LaggingReplicaStatus>();
        foreach (var report in reports)
        {
            foreach (var group in report.Groups.Where(g => g.Leader))
            {
                leaders.Add(new GroupLeaderStatus(group.Group, report.Silo.ReplicaId, report.Silo.Silo, group.CommitIndex, group.Members));
                foreach (long member in group.Members.Where(m => m != report.Silo.ReplicaId))
                {
                    if (!siloOf.TryGetValue(member, out var follower))
                    {
                        lagging.Add(new LaggingReplicaStatus(group.Group, member, null, -1, group.CommitIndex));
                        continue;
                    }
                    // A follower that holds no replica of the group in memory has nothing to compare (not created yet or evicted).
                    var replica = follower.Groups.FirstOrDefault(g => g.Group == group.Group);
                    if (replica is not null && replica.KnownSlot < group.CommitIndex)
                    {
                        lagging.Add(new LaggingReplicaStatus(group.Group, member, follower.Silo.Silo, replica.KnownSlot, group.CommitIndex));
                    }
                }
            }
        }

        return new ReplicatedClusterStatus
        {
            TakenAt = takenAt,
            RosterVersion = newest?.Silo.RosterVersion ?? -1,
            Roster = roster,
            Silos = [.. reports.Select(r => r.Silo)],
            Leaders = [.. leaders.OrderBy(l => l.Group, StringComparer.Ordinal)],
            Lagging = [.. lagging.OrderBy(l => l.Group, StringComparer.Ordinal).ThenBy(l => l.ReplicaId)],
            Unreachable = unreachable,
        };
    }
}

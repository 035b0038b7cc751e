using Microsoft.Extensions.Logging;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// A replica back after a restart is told how far its groups got. While it was away its groups chose slots without
/// it, and a leader whose group went idle meanwhile sends nothing more: the replica stayed behind until the grain's
/// next write, which the cluster status reported as lag, unhealthy, for as long as the grains stayed idle (a
/// user-style restart test, session 39: 50 groups behind after 90 s). Each group this silo leads with that member
/// announces its commit index to it; the member, its replica rebuilt from its WAL by the message if it was not in memory,
/// asks for what it lacks. The returning silo asks for this once it admits messages (<see cref="ReturnNotice"/>):
/// announced at the moment its address appears in membership, the heartbeats arrived before its identity check and
/// were dropped. Groups not in memory here are left alone: their next leader's campaign brings every member up to
/// date, and nothing is lost meanwhile (a majority holds every chosen slot).
/// </summary>
internal sealed partial class ReplicationRuntime
{
    internal async Task OnReplicaBackAsync(long replicaId, SiloAddress silo)
    {
        // Messages for it go where the roster says it runs: learn its new address first if this silo has not yet.
        if (!silo.Equals(roster.SiloOf(replicaId))) await roster.RefreshAddressesAsync();
        if (_table is not { } table) return;
        int told = 0;
        foreach (var group in table.Groups.ToList())
        {
            if (!group.IsLeader || group.LatestConfig?.Contains(replicaId) != true) continue;
            if (!group.Post(core => core.AnnounceCommitTo(replicaId))) continue;
            // A silo leading many groups paces the heartbeats, so they do not overflow the transport's queue to that
            // silo (TransportQueueCapacity drops the oldest) in one burst.
            if (++told % AnnouncementsPerPause == 0) await Task.Delay(AnnouncementPause);
        }
        LogReplicaBack(_logger, replicaId, silo, told);
    }

    private const int AnnouncementsPerPause = 1024;
    private static readonly TimeSpan AnnouncementPause = TimeSpan.FromMilliseconds(20);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {ReplicaId} is back on {Silo}; {Groups} groups led here told it their commit index so it catches up")]
    private static partial void LogReplicaBack(ILogger logger, long replicaId, SiloAddress silo, int groups);
}

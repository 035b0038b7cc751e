using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenReplica.Orleans.Replication;
using Orleans.Runtime;
using Orleans.Runtime.Services;

namespace OpenReplica.Orleans;

/// <summary>Answers for this silo in the cluster status: its replica, the roster it knows and its groups.</summary>
internal sealed class SiloStatusService(
    GrainId grainId,
    Silo silo,
    ILoggerFactory loggerFactory,
    ReplicationRuntime runtime,
    ReplicaRoster roster,
    ReplicaIdentity identity,
    Rebalancer rebalancer,
    IOptions<ReplicatedGrainsOptions> options) : GrainService(grainId, silo, loggerFactory), ISiloStatusService
{
    /// <summary>At most this many group replicas are described per silo (a status answer stays small).</summary>
    public const int MaxGroupsReported = 10_000;

    public async Task<SiloStatusReport> GetReportAsync()
    {
        var groups = await runtime.DescribeGroupsAsync(MaxGroupsReported);
        var current = roster.Current;
        var o = options.Value;
        var status = new SiloReplicationStatus
        {
            Silo = Silo.ToString(),
            ReplicaIdentity = identity.ReplicaId,
            ReplicaId = roster.LocalReplicaId,
            Mode = o.EffectiveMode,
            DataDirectory = o.EffectiveMode == ReplicationMode.Persisted ? Path.GetFullPath(o.DataDirectory!) : null,
            Restored = identity.Restored,
            InRoster = current?.Contains(roster.LocalReplicaId) ?? false,
            RosterVersion = current is null ? -1 : roster.Version,
            GroupsHeld = runtime.GroupCount,
            GroupsActive = runtime.ActiveGroupCount,
            GroupsEvicted = runtime.EvictedGroupCount,
            GroupsLed = groups.Count(g => g.Leader),
            RebalancedRosterVersion = rebalancer.SettledVersion,
            GroupsMisplaced = rebalancer.Progress.GroupsMisplaced,
            MovesCompleted = rebalancer.Progress.MovesCompleted,
            MovesFailed = rebalancer.Progress.MovesFailed,
            LogFailure = runtime.LogFailure?.Message,
            HostsActivations = runtime.StartsActivations,
        };
        return new SiloStatusReport(status, current is null ? [] : [.. current.Members], groups);
    }

    public Task ProbeAsync() => Task.CompletedTask;
}

/// <summary>Reaches the <see cref="ISiloStatusService"/> of a given silo.</summary>
internal sealed class SiloStatusServiceClient(IServiceProvider services) : GrainServiceClient<ISiloStatusService>(services)
{
    public ISiloStatusService For(SiloAddress silo) => GetGrainService(silo);
}

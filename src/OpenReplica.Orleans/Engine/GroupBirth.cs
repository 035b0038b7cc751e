using Microsoft.Extensions.Logging;
using OpenReplica.Consensus;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Decides the first configuration of a group this silo holds no replica of. Every replica of a group must agree
/// on the configuration its log starts from, and a roster that grows and shrinks leaves no fixed list to compute
/// it from (the genesis silos may all be gone after a rolling deployment). So a silo never invents a group that
/// may exist: it asks the live silos whether any holds it and starts from what that replica knows; only when none
/// does, and too few roster members are unreachable to hide all of a group's replicas, is the group new, and it
/// starts on its replica set in the current roster. The first configuration is then persisted with the replica
/// (a slot-0 snapshot), so a restart needs no roster at all.
/// </summary>
internal sealed partial class GroupBirth(ReplicaRoster roster, ReplicaHostClient hosts, ILogger<GroupBirth> logger)
{
    /// <summary>The configuration a new local replica of the grain's group starts from (see the class comment).</summary>
    public async Task<ClusterConfig> InitialConfigAsync(string groupId, GrainId grainId, int replicas, CancellationToken cancellationToken)
    {
        await roster.ResolveAsync(cancellationToken);
        var current = roster.Current!;
        int unanswered = 0;
        foreach (long member in current.Members.Union(roster.LiveReplicas()))
        {
            if (member == roster.LocalReplicaId) continue;
            cancellationToken.ThrowIfCancellationRequested();
            if (roster.SiloOf(member) is not { } silo)
            {
                if (current.Contains(member)) unanswered++;
                continue;
            }
            try
            {
                if (await hosts.For(silo).GetGroupStatusAsync(groupId) is { } status)
                {
                    LogFound(logger, groupId, member, string.Join(",", status.Latest));
                    return new ClusterConfig(status.Latest);
                }
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                if (current.Contains(member)) unanswered++;
                LogUnanswered(logger, groupId, silo, e.Message);
            }
        }
        if (unanswered >= replicas)
        {
            // All of an existing group's replicas could be among the silos that did not answer: starting a new
            // group now could hide its history. Fail this activation; it is retried once they answer or are replaced.
            throw new ReplicaSetUnavailableException(
                $"Cannot start grain {grainId}: {unanswered} roster members did not answer whether they hold its group, so it may exist there.");
        }
        var config = roster.TargetConfigFor(grainId, replicas)!;
        LogNew(logger, groupId, config.ToString());
        return config;
    }

    /// <summary>The configuration to start a replica from when a peer's message names a group this silo does not hold.</summary>
    public async Task<ClusterConfig?> ConfigFromPeerAsync(SiloAddress from, string groupId)
    {
        try
        {
            return await hosts.For(from).GetGroupStatusAsync(groupId) is { } status ? new ClusterConfig(status.Latest) : null;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogUnanswered(logger, groupId, from, e.Message);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId} exists: replica {Member} knows configuration {{{Config}}}")]
    private static partial void LogFound(ILogger logger, string groupId, long member, string config);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId} is new: it starts on {Config}")]
    private static partial void LogNew(ILogger logger, string groupId, string config);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Silo {Silo} did not say whether it holds group {GroupId}: {Reason}")]
    private static partial void LogUnanswered(ILogger logger, string groupId, SiloAddress silo, string reason);
}

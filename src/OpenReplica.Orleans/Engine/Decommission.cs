using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// A graceful stop of the silo (Orleans' <c>StopAsync</c>) first hands its work over, so a planned restart is not
/// handled as a failure: the silo asks to leave the roster, waits until the meta group has chosen a roster without
/// it, then lets the rebalancers move every group it holds to its new replica set (add the new member, let it catch
/// up, remove this one) and lets the activations it hosts start again on their replica sets, all before Orleans
/// deactivates grains and leaves the cluster. Bounded by <see cref="ReplicatedGrainsOptions.DecommissionTimeout"/>:
/// whatever is left is recovered as after a failure (the groups keep a majority elsewhere).
/// </summary>
internal sealed partial class Decommission(
    ReplicationRuntime runtime,
    ReplicaRoster roster,
    Rebalancer rebalancer,
    ReplicaHostClient hosts,
    IOptions<ReplicatedGrainsOptions> options,
    ILogger<Decommission> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(100);

    // Active is stopped first on shutdown: membership still calls this silo active and grains still run here.
    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(Decommission), ServiceLifecycleStage.Active, static _ => Task.CompletedTask, StopAsync);

    /// <summary>What the last graceful stop handed over; null before the silo began to stop.</summary>
    public DecommissionReport? LastReport { get; private set; }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        long me = roster.LocalReplicaId;
        if (cancellationToken.IsCancellationRequested || options.Value.DecommissionTimeout == TimeSpan.Zero || roster.Current is null)
        {
            LastReport = new DecommissionReport(me, runtime.HeldGroupIds().Count, -1, false, DecommissionOutcome.Skipped, 0);
            return;
        }
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(options.Value.DecommissionTimeout);
        var started = DateTime.UtcNow;
        int held = runtime.HeldGroupIds().Count;
        bool leftRoster = false;
        var outcome = DecommissionOutcome.TimedOut;
        int left = -1;
        try
        {
            LogLeaving(logger, me, held);
            leftRoster = await LeaveRosterAsync(me, started, bounded.Token);
            if (!leftRoster)
            {
                outcome = DecommissionOutcome.NoSuccessor;
                return;
            }
            LogLeftRoster(logger, me, roster.Version);
            // This silo's rebalancer drives the groups it leads (its activations' groups) and drops replicas that
            // moved away; the other silos' rebalancers, woken by the roster change, drive the rest. Passes repeat
            // until no group this silo held still names it or is led from here.
            while (await rebalancer.GroupsStillHereAsync(bounded.Token) is { Count: > 0 } here)
            {
                left = here.Count;
                LogHandingOver(logger, me, left, held, string.Join("; ", here.Take(3)));
                await rebalancer.PassAsync(bounded.Token);
                await Task.Delay(PollInterval, bounded.Token);
            }
            left = 0;
            outcome = DecommissionOutcome.HandedOver;
            LogHandedOver(logger, me, held, (DateTime.UtcNow - started).TotalMilliseconds);
        }
        catch (OperationCanceledException)
        {
            if (left < 0) left = held; // not counted yet: every group may still name it
            LogIncomplete(logger, me, options.Value.DecommissionTimeout, left);
        }
        finally
        {
            LastReport = new DecommissionReport(me, held, left, leftRoster, outcome, (DateTime.UtcNow - started).TotalMilliseconds);
        }
    }

    /// <summary>Asks to leave the roster and waits until the meta group chose a roster without this replica; false when nobody can take its place.</summary>
    private async Task<bool> LeaveRosterAsync(long me, DateTime started, CancellationToken cancellationToken)
    {
        roster.MarkLeaving(me);
        await AnnounceAsync(me);
        while (roster.Current!.Contains(me))
        {
            if (roster.Current.Members.Count <= options.Value.ReplicationFactor && roster.Spares().Count == 0)
            {
                // Nobody can take this replica's place (the whole cluster may be stopping): stop as after a failure.
                LogNoSuccessor(logger, me, roster.Current.Members.Count);
                return false;
            }
            await Task.Delay(PollInterval, cancellationToken);
            // Once removed, the meta group sends this replica nothing more: ask a member for the new roster.
            await roster.LearnNewerFromPeersAsync();
            if (DateTime.UtcNow - started > TimeSpan.FromSeconds(1)) await AnnounceAsync(me); // a new meta leader may not know
        }
        return true;
    }

    /// <summary>Tells every live silo (the meta group's leader among them) that this replica leaves.</summary>
    private async Task AnnounceAsync(long me)
    {
        foreach (long replica in roster.LiveReplicas())
        {
            if (roster.SiloOf(replica) is not { } silo) continue;
            try
            {
                await hosts.For(silo).LeaveRosterAsync(me);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // That silo is going too or unreachable; the others suffice.
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} is leaving: handing its {Held} groups over before the silo stops")]
    private static partial void LogLeaving(ILogger logger, long replica, int held);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} is handing over: {Left} of its {Held} groups still name it or are led from here, such as {Examples}")]
    private static partial void LogHandingOver(ILogger logger, long replica, int left, int held, string examples);

    // Information: a cluster of exactly R silos stopping (or one restarting for maintenance) is normal; the replica keeps its data.
    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} cannot leave the roster: it has {Members} members, no more than the replication factor, and no live silo can replace it")]
    private static partial void LogNoSuccessor(ILogger logger, long replica, int members);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} left the roster (version {Version}); moving its groups")]
    private static partial void LogLeftRoster(ILogger logger, long replica, long version);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} handed all {Held} groups over in {ElapsedMs} ms")]
    private static partial void LogHandedOver(ILogger logger, long replica, int held, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {Replica} did not hand everything over within {Timeout}: {Left} groups still name it and recover as after a failure")]
    private static partial void LogIncomplete(ILogger logger, long replica, TimeSpan timeout, int left);
}

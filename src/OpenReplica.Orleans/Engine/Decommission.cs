using System.Diagnostics;
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
        long started = Stopwatch.GetTimestamp(); // monotonic: a wall clock step must not cut the hand-over short
        int held = runtime.HeldGroupIds().Count;
        bool leftRoster = false;
        var outcome = DecommissionOutcome.TimedOut;
        int left = -1;
        HandOverQueue? queue = null;
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
            // This silo steps the groups it holds (driving those it leads, its activations' groups, and dropping
            // replicas that moved away), each again as soon as its last step ended; the other silos' rebalancers,
            // woken by the roster change, drive the rest. A last count over every held group catches a replica that
            // a late message started here meanwhile.
            rebalancer.HandingOver = true;
            using (var progress = new CancellationTokenSource())
            {
                queue = new HandOverQueue(rebalancer, rebalancer.UrgentConcurrency, DrivenHere);
                var reporting = ReportProgressAsync(me, held, started, queue, progress.Token);
                try
                {
                    await queue.RunAsync(rebalancer.DriversFirst(runtime.HeldGroupIds()), bounded.Token);
                    while (await rebalancer.GroupsStillHereAsync(bounded.Token) is { Count: > 0 } here)
                    {
                        LogHandingOver(logger, me, here.Count, held, Stopwatch.GetElapsedTime(started).TotalMilliseconds, string.Join("; ", here.Take(3)));
                        await (queue = new HandOverQueue(rebalancer, queue.Width, DrivenHere)).RunAsync(runtime.HeldGroupIds(), bounded.Token);
                    }
                }
                finally
                {
                    progress.Cancel();
                    await reporting;
                }
            }
            left = 0;
            outcome = DecommissionOutcome.HandedOver;
            LogHandedOver(logger, me, held, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (OperationCanceledException)
        {
            if (!cancellationToken.IsCancellationRequested) leftRoster = await HandOverMajoritiesAsync(me, queue, leftRoster, started, cancellationToken);
            // Counted now, not at the start of the last round: groups keep moving until the end.
            using var recount = new CancellationTokenSource(RecountBound);
            left = queue is null ? held : await queue.RecountAsync(recount.Token);
            LogIncomplete(logger, me, options.Value.DecommissionTimeout, left, queue?.Examples(3) ?? "");
        }
        finally
        {
            rebalancer.HandingOver = false;
            LastReport = new DecommissionReport(me, held, left, leftRoster, outcome, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
    }

    /// <summary>
    /// After <see cref="ReplicatedGrainsOptions.DecommissionTimeout"/>: goes on, for at most
    /// <see cref="ReplicatedGrainsOptions.DecommissionMajorityTimeout"/> (and never past the host's deadline), with the
    /// groups still here that would be left without a majority of staying members; the others keep one and move later.
    /// If the timeout came while the silo was still leaving the roster, it finishes leaving first (until then no move
    /// takes a group off it). Returns whether it left the roster.
    /// </summary>
    private async Task<bool> HandOverMajoritiesAsync(long me, HandOverQueue? queue, bool leftRoster, long started, CancellationToken cancellationToken)
    {
        var extra = options.Value.DecommissionMajorityTimeout;
        if (extra <= TimeSpan.Zero) return leftRoster;
        var left = queue?.Remaining ?? runtime.HeldGroupIds();
        var critical = rebalancer.WouldLoseMajority(left);
        if (critical.Count == 0) return leftRoster;
        LogHandingOverMajorities(logger, me, critical.Count, left.Count, extra, string.Join("; ", critical.Take(3)));
        using var bounded = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        bounded.CancelAfter(extra);
        var last = new HandOverQueue(rebalancer, rebalancer.UrgentConcurrency, DrivenHere);
        try
        {
            if (!leftRoster && !(leftRoster = await LeaveRosterAsync(me, started, bounded.Token))) return false;
            rebalancer.HandingOver = true;
            await last.RunAsync(critical, bounded.Token);
            LogMajoritiesHandedOver(logger, me, critical.Count, Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        catch (OperationCanceledException)
        {
        }
        return leftRoster;
    }

    /// <summary>Whether this silo drives the group's move: an activation here leads it.</summary>
    private bool DrivenHere(string groupId) => runtime.GroupOrNull(groupId) is { Listener: not null };

    // A recount asks this silo's replicas only; past this bound the last count taken is reported.
    private static readonly TimeSpan RecountBound = TimeSpan.FromSeconds(2);
    private static readonly TimeSpan ProgressEvery = TimeSpan.FromSeconds(2);

    /// <summary>Logs how many groups still name this silo every <see cref="ProgressEvery"/> until the hand-over ends.</summary>
    private async Task ReportProgressAsync(long me, int held, long started, HandOverQueue queue, CancellationToken cancellationToken)
    {
        try
        {
            while (true)
            {
                await Task.Delay(ProgressEvery, cancellationToken);
                LogHandingOver(logger, me, queue.Count, held, Stopwatch.GetElapsedTime(started).TotalMilliseconds, queue.Examples(3));
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Asks to leave the roster and waits until the meta group chose a roster without this replica; false when nobody can take its place.</summary>
    private async Task<bool> LeaveRosterAsync(long me, long started, CancellationToken cancellationToken)
    {
        roster.MarkLeaving(me, roster.LocalSilo);
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
            if (Stopwatch.GetElapsedTime(started) > TimeSpan.FromSeconds(1)) await AnnounceAsync(me); // a new meta leader may not know
        }
        return true;
    }

    /// <summary>Tells every live silo (the meta group's leader among them) that this replica leaves, all at once.</summary>
    /// <remarks>One after the other, each call's round trip (a few hundred ms on a busy machine) delayed the next.</remarks>
    private async Task AnnounceAsync(long me) =>
        await Task.WhenAll(roster.LiveReplicas().Select(roster.SiloOf).OfType<SiloAddress>().Select(async silo =>
        {
            try
            {
                await TellLeavingAsync(hosts.For(silo), me, roster.LocalSilo);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // That silo is going too or unreachable; the others suffice.
            }
        }));

    /// <summary>
    /// Tells one silo that replica <paramref name="me"/> leaves from <paramref name="from"/>; a silo of an earlier
    /// version (a rolling upgrade) does not know that method and answers with an error, so it is told the old way.
    /// </summary>
    internal static async Task TellLeavingAsync(IReplicaHost host, long me, SiloAddress from)
    {
        try
        {
            await host.LeaveRosterFromAsync(me, from);
        }
        catch (Exception e) when (e is not OperationCanceledException and not TimeoutException)
        {
            await host.LeaveRosterAsync(me);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} is leaving: handing its {Held} groups over before the silo stops")]
    private static partial void LogLeaving(ILogger logger, long replica, int held);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} is handing over: {Left} of its {Held} groups still name it or are led from here after {ElapsedMs} ms, such as {Examples}")]
    private static partial void LogHandingOver(ILogger logger, long replica, int left, int held, double elapsedMs, string examples);

    // Information: a cluster of exactly R silos stopping (or one restarting for maintenance) is normal; the replica keeps its data.
    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} cannot leave the roster: it has {Members} members, no more than the replication factor, and no live silo can replace it")]
    private static partial void LogNoSuccessor(ILogger logger, long replica, int members);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} left the roster (version {Version}); moving its groups")]
    private static partial void LogLeftRoster(ILogger logger, long replica, long version);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {Replica} ran out of its hand-over time with {Left} groups left; {Critical} of them would have no majority of live members without it and are handed over for up to {Extra} more, such as {Examples}")]
    private static partial void LogHandingOverMajorities(ILogger logger, long replica, int critical, int left, TimeSpan extra, string examples);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} handed over the {Critical} groups that needed it for a majority after {ElapsedMs} ms")]
    private static partial void LogMajoritiesHandedOver(ILogger logger, long replica, int critical, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Replica} handed all {Held} groups over in {ElapsedMs} ms")]
    private static partial void LogHandedOver(ILogger logger, long replica, int held, double elapsedMs);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {Replica} did not hand everything over within {Timeout}: {Left} groups still name it (counted at the timeout) and recover as after a failure, such as {Examples}")]
    private static partial void LogIncomplete(ILogger logger, long replica, TimeSpan timeout, int left, string examples);
}

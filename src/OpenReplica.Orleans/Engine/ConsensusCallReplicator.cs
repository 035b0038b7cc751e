using Microsoft.Extensions.Logging;
using OpenReplica.Consensus;
using System.Collections.Concurrent;
using System.Globalization;
using Microsoft.Extensions.Options;
using Orleans.Metadata;
using Orleans.Runtime;
using Orleans.Serialization;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The <see cref="ICallReplicator"/> backed by consensus: each activation leads its grain's Multi-Paxos group
/// through a <see cref="GrainSession"/>.
/// </summary>
internal sealed partial class ConsensusCallReplicator(
    ReplicationRuntime runtime,
    GrainPropertiesResolver properties,
    Serializer serializer,
    EntryClock entryClock,
    IOptions<ReplicatedGrainsOptions> options,
    DivergenceMonitor divergence,
    LogMemoryBudget logMemory,
    Rebalancer rebalancer,
    IReplicaSetLocator locator,
    IClusterMembershipService membership,
    Diagnostics.ReplicationInstruments instruments,
    ILogger<EffectRunner> effectLogger,
    ILogger<ConsensusCallReplicator> logger) : ICallReplicator
{
    private readonly ConcurrentDictionary<IGrainContext, GrainSession> _sessions = new();
    private int _sweepSet;

    // A move's driver takes a few hundred ms (Volatile) to a second or two (Persisted catch-up) and then resigns.
    internal static readonly TimeSpan RecampaignAfter = TimeSpan.FromSeconds(1);

    public async Task RecoverAsync(IGrainContext grain, CancellationToken cancellationToken)
    {
        if (runtime.Roster.IsLeaving(runtime.Roster.LocalReplicaId))
        {
            // A graceful stop is handing this silo's groups over; a call routed here by a stale directory cache must
            // not start the grain (and lead its group) again. Deactivating without an error makes Orleans forward the
            // queued calls, and placement then picks a silo of the grain's replica set.
            grain.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "this silo is leaving: the grain starts on its replica set"));
            return;
        }
        int replicas = ReplicasOf(grain.GrainId.Type);
        var target = runtime.Roster.TargetConfigFor(grain.GrainId, replicas);
        if (target is not null && !target.Contains(runtime.Roster.LocalReplicaId))
        {
            // Placement puts a replicated grain on its replica set; an activation outside it was started by a call
            // that a stale directory cache routed here (often to the silo a moved group just left). Leading from here
            // would take the group's leadership from its replica set, and its rebalancer would make it step aside
            // again: with calls still routed here, that repeats and the group never settles. Deactivating before
            // the grain runs makes Orleans forward the call, and placement picks the replica set.
            LogNotOnReplicaSet(logger, grain.GrainId, target.ToString());
            grain.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "this silo is not in the grain's replica set: the grain starts there"));
            return;
        }
        // Placement skips this silo while it is unfit to host activations, but a silo that placed the grain here did
        // not know; deactivating before the grain runs makes Orleans forward the call, and this silo's placement then
        // picks another replica silo (unless none is live: better an activation that waits than none).
        // - Its log is failing (or failed moments ago): the activation would fail at its first write, and placement
        //   would put the next attempt here again if the calls come through this silo's gateway.
        // - It restarted less than a lease ago: its replica would lose its own campaign to its lease guard and serve
        //   only when the guard ends.
        if (runtime.UnfitReason is { } unfit && await OtherReplicaSiloLiveAsync(grain.GrainId, replicas))
        {
            LogUnfit(logger, grain.GrainId, unfit);
            grain.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, $"{unfit}: the grain starts on another replica silo"));
            return;
        }
        long started = System.Diagnostics.Stopwatch.GetTimestamp();
        LogRecovering(logger, grain.GrainId, grain.ActivationId);
        var group = await runtime.GetOrCreateAsync(grain.GrainId, replicas, cancellationToken);
        if (Interlocked.Exchange(ref _sweepSet, 1) == 0) logMemory.Sweep = SweepForBudget;
        var session = new GrainSession(grain, group, serializer, entryClock, options.Value.SnapshotEveryCommands,
            options.Value.SnapshotOnDeactivationAfterCommands, options.Value.MaxUnappliedCommands, logMemory, replicas, divergence, instruments, effectLogger);
        _sessions[grain] = session;
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(options.Value.CallTimeout);
        try
        {
            var start = session.StartAsync(timeout.Token);
            // A campaign beaten before the activation served is not retried by the session itself (see
            // GrainSession.CampaignAgainIfIdleAsync): look again every RecampaignAfter until it serves or times out.
            while (await Task.WhenAny(start, Task.Delay(RecampaignAfter, CancellationToken.None)) != start) await session.CampaignAgainIfIdleAsync();
            await start;
            LogServing(logger, grain.GrainId, grain.ActivationId, System.Diagnostics.Stopwatch.GetElapsedTime(started).TotalMilliseconds, session.StartPhases());
            if (target is not null) _ = RequestMoveIfMisplacedAsync(grain.GrainId, group, target);
        }
        catch
        {
            _ = Detach(grain);
            throw;
        }
    }

    /// <summary>Whether a replica silo of the grain other than this one is active (else a failing log here is still the best chance).</summary>
    private async Task<bool> OtherReplicaSiloLiveAsync(GrainId grainId, int replicas)
    {
        var snapshot = membership.CurrentSnapshot;
        foreach (var silo in await locator.GetReplicaSilosAsync(grainId, replicas))
        {
            if (!silo.Equals(runtime.LocalSilo) && snapshot.GetSiloStatus(silo) == SiloStatus.Active) return true;
        }
        return false;
    }

    /// <summary>The log memory budget's sweep: activations holding at least the average are asked to snapshot.</summary>
    private void SweepForBudget()
    {
        long average = logMemory.AverageHeld;
        foreach (var session in _sessions.Values)
        {
            if (session.LogMemoryHeld < average) continue;
            try
            {
                session.CompactForBudget();
            }
            catch (Exception e) when (e is InvalidOperationException or ObjectDisposedException)
            {
                // The activation stopped meanwhile: its log is released with it.
            }
        }
    }

    /// <summary>
    /// An activation that leads a group whose configuration is not the grain's replica set (it started on a silo that
    /// joined the set, before the group moved there) asks this silo's rebalancer for a pass: this silo drives the move,
    /// and a pass that ran before it held the group may have called the roster settled.
    /// </summary>
    private async Task RequestMoveIfMisplacedAsync(GrainId grainId, GroupReplica group, ClusterConfig target)
    {
        try
        {
            var latest = await group.AskAsync(core => (core.Configs.Latest, new Ready()));
            if (latest.Equals(target)) return;
            LogLeadsMisplaced(logger, grainId, latest.ToString(), target.ToString());
            rebalancer.RequestPass();
        }
        catch (ReplicaUnavailableException)
        {
            // The replica stopped: nothing to move from here.
        }
    }

    public Task<object?> ReplicateAsync(IGrainContext grain, byte[] invokable, CallStamp stamp, CancellationToken cancellationToken) =>
        SessionOf(grain).ReplicateAsync(invokable, stamp, cancellationToken);

    public Task<CallResolution> ResolveCallAsync(IGrainContext grain, CallStamp stamp, CancellationToken cancellationToken) =>
        SessionOf(grain).ResolveCallAsync(stamp, cancellationToken);

    public void Activated(IGrainContext grain)
    {
        if (_sessions.TryGetValue(grain, out var session)) session.Activated();
    }

    public bool CanReadLocally(IGrainContext grain) => _sessions.TryGetValue(grain, out var session) && session.CanReadLocally();

    public Task ReadBarrierAsync(IGrainContext grain, CancellationToken cancellationToken) =>
        SessionOf(grain).ReadBarrierAsync(cancellationToken);

    public DivergenceReport? GetDivergence(IGrainContext grain) => SessionOf(grain).Divergence;

    public Task AcceptDivergenceAsync(IGrainContext grain, string reason, CancellationToken cancellationToken) =>
        SessionOf(grain).AcceptDivergenceAsync(reason, cancellationToken);

    /// <summary>
    /// Stops the activation's session and waits, at most <see cref="ResignSentWait"/>, until its resignation left for
    /// the followers: a silo's graceful stop deactivates its grains and stops the consensus transport right after, so
    /// the deactivation must not end before its last messages are queued (see <see cref="GroupReplica.PostUntilSentAsync"/>).
    /// </summary>
    public async Task DetachAsync(IGrainContext grain)
    {
        try
        {
            await Detach(grain).WaitAsync(ResignSentWait);
        }
        catch (TimeoutException)
        {
            // A step stuck on a slow disk: the followers learn from their own timers instead (the lease runs out).
        }
    }

    /// <summary>How long a deactivation waits for its resignation's step (an fsync on a loaded disk, at worst).</summary>
    private static readonly TimeSpan ResignSentWait = TimeSpan.FromSeconds(2);

    private Task Detach(IGrainContext grain)
    {
        if (!_sessions.TryRemove(grain, out var session)) return Task.CompletedTask;
        LogDetached(logger, grain.GrainId, grain.ActivationId);
        return session.StopAsync();
    }

    private GrainSession SessionOf(IGrainContext grain) =>
        _sessions.TryGetValue(grain, out var session)
            ? session
            : throw new ReplicaUnavailableException($"grain {grain.GrainId} has no replication session on this silo (activation failed or stopped)");

    private int ReplicasOf(GrainType type)
    {
        var props = properties.GetGrainProperties(type).Properties;
        return props.TryGetValue(ReplicatedPlacement.ReplicasPropertyKey, out var value) && int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out int n)
            ? n
            : options.Value.ReplicationFactor;
    }

    // Debug: an activation's life on this silo, to tell what a slow call waited for (a start, a hand-over).
    [LoggerMessage(Level = LogLevel.Debug, Message = "Grain {GrainId} activation {ActivationId}: starting (rebuilding its state, taking the lead)")]
    private static partial void LogRecovering(ILogger logger, GrainId grainId, ActivationId activationId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Grain {GrainId} activation {ActivationId}: serving after {ElapsedMs} ms ({Phases})")]
    private static partial void LogServing(ILogger logger, GrainId grainId, ActivationId activationId, double elapsedMs, string phases);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Grain {GrainId} leads its group from configuration {Config}, not its replica set {Target}: a rebalance pass moves it")]
    private static partial void LogLeadsMisplaced(ILogger logger, GrainId grainId, string config, string target);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Grain {GrainId} activation {ActivationId}: stopped (deactivating)")]
    private static partial void LogDetached(ILogger logger, GrainId grainId, ActivationId activationId);

    [LoggerMessage(Level = LogLevel.Information, Message = "Grain {GrainId} was placed on this silo, but {Reason}: it deactivates and Orleans forwards the call to another replica silo")]
    private static partial void LogUnfit(ILogger logger, GrainId grainId, string reason);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Grain {GrainId} was routed to this silo, outside its replica set {Target} (a stale directory cache): it deactivates and Orleans forwards the call")]
    private static partial void LogNotOnReplicaSet(ILogger logger, GrainId grainId, string target);
}

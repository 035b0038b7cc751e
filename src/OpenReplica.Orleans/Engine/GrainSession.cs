using Microsoft.Extensions.Logging;
using System.Diagnostics;
using System.Threading.Channels;
using OpenReplica.Consensus;
using OpenReplica.Orleans.Diagnostics;
using Orleans.Runtime;
using Orleans.Runtime.Placement;
using Orleans.Serialization;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// One activation of a replicated grain, leading its group: it campaigns (a higher ballot fences any older
/// activation), replays the log into State, then proposes each call and applies chosen commands strictly in slot
/// order on the activation's own scheduler. Replies are kept in the replicated state for exactly-once retries.
/// The engine never waits for it: committed entries are queued here (<see cref="OnReady"/>) and applied by the
/// activation's own pump; snapshots go back to the group as ordinary inputs. The queue is bounded by refusing new
/// calls (retryable) while more than <c>maxUnappliedCommands</c> chosen commands wait to be applied.
/// </summary>
internal sealed partial class GrainSession(
    IGrainContext grain,
    GroupReplica group,
    Serializer serializer,
    EntryClock entryClock, // the silo's: shared by its activations
    int snapshotEveryCommands,
    int snapshotOnDeactivationAfterCommands,
    int maxUnappliedCommands,
    LogMemoryBudget logMemory,
    int replicas,
    DivergenceMonitor divergenceMonitor,
    ReplicationInstruments instruments,
    ILogger effectLogger) : IGroupListener
{
    private readonly CallTracing _tracing = new(instruments, grain.GrainId.ToString());
    private readonly IReplicatedStateMachine _machine = (IReplicatedStateMachine)grain.GrainInstance!;
    private readonly DivergenceDetector _divergence = divergenceMonitor.Track(grain.GrainId, ((IReplicatedStateMachine)grain.GrainInstance!).DigestState);
    private readonly EffectRunner _effects = new(grain.GrainId, (IReplicatedStateMachine)grain.GrainInstance!, group.Propose, effectLogger);
    private bool _activated; // the first call reached the activation: OnActivateAsync is done, effects may run
    private bool _processing; // the pump is inside a Ready (State may be between two commands): no snapshot now
    // Unbounded as a channel, bounded by admission: ReplicateAsync refuses calls while _unapplied is over the limit,
    // and only this leader's proposals produce commits (a few windows of slots beyond the limit at most).
    private readonly Channel<Ready> _pump = Channel.CreateUnbounded<Ready>(new UnboundedChannelOptions { SingleReader = true, SingleWriter = true });
    private long _unapplied;
    private readonly Dictionary<CommandId, TaskCompletionSource<CommandOutcome>> _waiters = [];
    private readonly HashSet<CommandId> _deferred = [];
    private readonly Dictionary<CommandId, TaskCompletionSource<CallResolution>> _fences = [];
    private readonly Dictionary<long, List<TaskCompletionSource>> _reads = [];
    private readonly List<TaskCompletionSource> _nextReads = [];
    private bool _readInFlight;
    private readonly TaskCompletionSource _leading = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly ReplyTable _replies = new();
    private readonly Guid _localClient = Guid.NewGuid();
    private long _localSequence;
    private long _nextReadId;
    private long _appliedSinceSnapshot;
    // What this activation's commands since its last snapshot hold in the group's logs, charged to the silo's budget
    // (under its own lock: the engine's thread releases it when the activation is displaced or fails).
    private readonly Lock _logMemoryLock = new();
    private long _logMemoryHeld;
    private bool _logMemoryClosed;
    private long _lastSnapshotBytes; // the size of State's last snapshot (taken or loaded): what compacting costs
    private long _appliedSlot; // on the activation's scheduler: the last slot State reflects
    private long? _leaderFloor; // set when this replica became leader: serve once State reflects this slot
    private volatile Exception? _lost;
    // Diagnostics (Stopwatch timestamps, 0 until reached): when the session was created (its age in Describe), the
    // replica in hand, the replay done, the lead won.
    private readonly long _startedAt = Stopwatch.GetTimestamp();
    private long _inHandAt, _replayedAt, _leaderAt, _replayedCommands;

    /// <summary>Campaigns, replays snapshot + log into State, and waits until this activation leads the group.</summary>
    public async Task StartAsync(CancellationToken cancellationToken)
    {
        var (snapshot, entries, alreadyLeading) = await group.AskAsync(core =>
        {
            group.SetListener(this);
            var committed = core.Entries.Where(e => e.Slot <= core.AppliedIndex).ToList();
            bool leading = core.IsLeader;
            if (leading) _leaderFloor = core.LeaseReadFloor;
            return ((core.LatestSnapshot, committed, leading), leading ? new Ready() : core.Campaign());
        });
        _inHandAt = Stopwatch.GetTimestamp();
        if (alreadyLeading) _leaderAt = _inHandAt;
        long replayed = 0;

        var sessions = snapshot is null ? new SessionTable() : snapshot.Sessions.Clone();
        if (snapshot is not null)
        {
            LoadAppSnapshot(snapshot.AppState, snapshot.Slot);
            _appliedSlot = snapshot.Slot;
        }
        foreach (var entry in entries)
        {
            for (int i = 0; i < entry.Value.Commands.Count; i++)
            {
                var command = entry.Value.Commands[i];
                if (!sessions.TryMarkApplied(command, entry.Slot) || command.Payload.Length == 0) continue;
                if (OutboxRecord.IsRecord(command))
                {
                    _machine.Outbox.Complete(OutboxRecord.ReadDone(command));
                }
                else if (CallFence.IsFence(command))
                {
                    _replies.Record(command, CallFence.Outcome(command));
                }
                else if (DivergenceRecord.IsRecord(command))
                {
                    _divergence.OnRecord(command);
                }
                else
                {
                    await ApplyAsync(command, entry.Slot, i);
                    replayed++;
                }
            }
            _appliedSlot = entry.Slot;
        }
        instruments.Replayed(Stopwatch.GetElapsedTime(_inHandAt), replayed);
        (_replayedAt, _replayedCommands) = (Stopwatch.GetTimestamp(), replayed);
        if (alreadyLeading) TryStartServing();
        _ = PumpAsync(); // continues on this activation's scheduler

        using var registration = cancellationToken.Register(() =>
            _leading.TrySetException(new ReplicaUnavailableException($"grain {grain.GrainId}: a majority of its replicas did not answer in time")));
        await _leading.Task;
        // Scale-out (issue 13): moving the group when the roster changes is the silo's Rebalancer's work (it drives
        // the groups this replica leads through the same group loop).
    }

    /// <summary>
    /// Ends this activation so the grain starts again on a silo of its replica set (its group moved away, or this
    /// silo is leaving). Calls in flight finish first. With <paramref name="to"/> (a live member of the group's new
    /// configuration) the activation migrates there: Orleans starts the next activation on that silo at once and
    /// forwards the queued calls to it, instead of waiting for the next call to place it (seconds on a busy cluster,
    /// while every caller of the grain waits). The state is not carried: the next activation rebuilds it from its
    /// own replica of the group, like any activation.
    /// </summary>
    public void StepAside(string why, SiloAddress? to = null)
    {
        Interlocked.Increment(ref _stepAsideRequests);
        if (to is not null) grain.Migrate(new Dictionary<string, object> { [IPlacementDirector.PlacementHintKey] = to });
        else grain.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, $"replicated grain moves: {why}"));
    }

    private int _stepAsideRequests;

    /// <summary>Diagnostics (the rebalancer's log of a group that stays misplaced): this activation and how far it got.</summary>
    public string Describe() =>
        $"activation {grain.ActivationId} of {Stopwatch.GetElapsedTime(_startedAt).TotalSeconds:0.0} s, asked to step aside {Volatile.Read(ref _stepAsideRequests)} times, "
        + $"{(_leading.Task.IsCompleted ? "serving" : "not serving yet")}, {(grain.Deactivated.IsCompleted ? "deactivated" : "not deactivated")}";

    /// <summary>Diagnostics: how the start went, each phase in ms from the activation's start ("–" if not reached).</summary>
    public string StartPhases() =>
        $"replica in hand +{Since(_inHandAt)}, replayed {_replayedCommands} commands +{Since(_replayedAt)}, leading +{Since(_leaderAt)}";

    private string Since(long at) => at == 0 ? "–" : $"{Stopwatch.GetElapsedTime(_startedAt, at).TotalMilliseconds:0} ms";

    public async Task<object?> ReplicateAsync(byte[] invokable, CallStamp stamp, CancellationToken cancellationToken)
    {
        ThrowIfLost();
        _divergence.ThrowIfDiverged();
        var command = stamp.IsNone
            ? NewLocalCommand(invokable)
            : new Command(stamp.ClientId, stamp.Sequence, stamp.FirstUnacknowledged, CommandPayload.Encode(entryClock.Now(), invokable));
        TaskCompletionSource<CommandOutcome> waiter;
        lock (_waiters)
        {
            // A retry of a call still in flight shares its outcome (unless that wait already ended, e.g. timed out).
            if (!_waiters.TryGetValue(command.Id, out waiter!) || waiter.Task.IsCompleted)
            {
                waiter = new TaskCompletionSource<CommandOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
                _waiters[command.Id] = waiter;
            }
        }
        if (Volatile.Read(ref _unapplied) > maxUnappliedCommands)
        {
            Fail(command.Id, new ReplicaUnavailableException(
                $"grain {grain.GrainId}: overloaded, {Volatile.Read(ref _unapplied)} chosen calls wait to be applied (MaxUnappliedCommands {maxUnappliedCommands}); retry with the same stamp"));
        }
        else
        {
            using var proposeSpan = _tracing.StartPropose(command.Id);
            switch (group.Propose(command))
            {
                case ProposeResult.Full:
                    Fail(command.Id, new ReplicaUnavailableException($"grain {grain.GrainId}: overloaded, too many calls wait to be proposed (MaxQueuedProposals); retry with the same stamp"));
                    break;
                case ProposeResult.Stopped:
                    Fail(command.Id, new ReplicaUnavailableException($"grain {grain.GrainId}: its replica on this silo is not accepting calls"));
                    break;
            }
        }
        using var registration = cancellationToken.Register(() =>
        {
            // A call that was chosen and deferred its reply (a blocking call) waits for its answer, not for the timeout.
            lock (_deferred) if (_deferred.Contains(command.Id)) return;
            if (waiter.TrySetException(new TimeoutException(
                $"grain {grain.GrainId}: the call was not chosen in time (no majority of its replicas answered); it may still take effect, retry with the same stamp")))
            {
                _ = LogNotChosenAsync();
            }
        });
        var outcome = await waiter.Task;
        return outcome.GetResultOrThrow();
    }

    /// <summary>A read may run at once under this activation's lease (see <see cref="GroupReplica.CanReadLocally"/>).</summary>
    public bool CanReadLocally() => _lost is null && _divergence.Diverged is null && group.CanReadLocally(_appliedSlot);

    /// <summary>The divergence this activation detected and nobody accepted yet.</summary>
    public DivergenceReport? Divergence => _divergence.Diverged;

    /// <summary>
    /// An operator accepts the replayed state: the acceptance goes through the log (so every later replay passes the
    /// same mismatch) and the grain serves again once it is applied.
    /// </summary>
    public async Task AcceptDivergenceAsync(string reason, CancellationToken cancellationToken)
    {
        ThrowIfLost();
        if (_divergence.Diverged is null) throw new InvalidOperationException($"grain {grain.GrainId} has no divergence to accept");
        var command = DivergenceRecord.Acceptance(CommandPayload.Position(_appliedSlot + 1, 0), reason);
        var waiter = new TaskCompletionSource<CommandOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_waiters) _waiters[command.Id] = waiter;
        if (group.Propose(command) != ProposeResult.Queued) Fail(command.Id, new ReplicaUnavailableException($"grain {grain.GrainId}: its replica on this silo is not accepting the acceptance now; try again"));
        using var registration = cancellationToken.Register(() => waiter.TrySetException(new TimeoutException($"grain {grain.GrainId}: the acceptance was not chosen in time; try again")));
        await waiter.Task;
    }

    /// <summary>
    /// Resolves a call whose caller gave up (<see cref="IReplicatedCallOutcome.ResolveCall"/>): a kept reply answers at
    /// once (the call was applied, or fenced earlier); otherwise a fence with the call's stamp goes through the log.
    /// </summary>
    public async Task<CallResolution> ResolveCallAsync(CallStamp stamp, CancellationToken cancellationToken)
    {
        ThrowIfLost();
        if (stamp.IsNone) throw new ArgumentException("an unstamped call has no outcome to resolve: nothing identifies it", nameof(stamp));
        var id = new CommandId(stamp.ClientId, stamp.Sequence);
        if (_replies.TryGet(id, out var known)) return ResolutionOf(known);

        TaskCompletionSource<CallResolution> waiter;
        lock (_fences)
        {
            if (!_fences.TryGetValue(id, out waiter!) || waiter.Task.IsCompleted)
            {
                _fences[id] = waiter = new TaskCompletionSource<CallResolution>(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
        if (group.Propose(CallFence.For(stamp)) != ProposeResult.Queued)
        {
            FailFence(id, new ReplicaUnavailableException($"grain {grain.GrainId}: its replica on this silo is not accepting proposals now; retry"));
        }
        using var registration = cancellationToken.Register(() => waiter.TrySetException(
            new TimeoutException($"grain {grain.GrainId}: the outcome of {stamp} could not be resolved in time (no majority answered); retry")));
        return await waiter.Task;
    }

    private CallResolution ResolutionOf(CommandId id) =>
        _replies.TryGet(id, out var reply) ? ResolutionOf(reply) : new CallResolution(ResolvedOutcome.Forgotten);

    private static CallResolution ResolutionOf(StoredReply reply) => reply switch
    {
        { Exception: CallNotAppliedException } => new CallResolution(ResolvedOutcome.NotApplied),
        { Pending: true } => new CallResolution(ResolvedOutcome.Applied),
        _ => new CallResolution(ResolvedOutcome.Applied, reply.Result, reply.Exception, ReplyKept: true),
    };

    private void EndFence(CommandId id, CallResolution resolution)
    {
        TaskCompletionSource<CallResolution>? waiter;
        lock (_fences) _fences.Remove(id, out waiter);
        waiter?.TrySetResult(resolution);
    }

    private void FailFence(CommandId id, Exception exception)
    {
        TaskCompletionSource<CallResolution>? waiter;
        lock (_fences) _fences.Remove(id, out waiter);
        waiter?.TrySetException(exception);
    }

    /// <summary>
    /// Linearizable read barrier (read-index): returns once State reflects every call chosen before it began.
    /// Reads that arrive while a read-index round is in flight share the next round (one quorum round trip for
    /// many reads); they cannot join the round in flight, which may have taken its index before they began.
    /// </summary>
    public async Task ReadBarrierAsync(CancellationToken cancellationToken)
    {
        ThrowIfLost();
        _divergence.ThrowIfDiverged();
        var done = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_reads)
        {
            _nextReads.Add(done);
            if (!_readInFlight) StartReadRound();
        }
        using var registration = cancellationToken.Register(() => done.TrySetException(
            new TimeoutException($"grain {grain.GrainId}: leadership could not be confirmed by a majority in time")));
        await done.Task;
    }

    /// <summary>Sends the waiting reads' round (called under the reads lock).</summary>
    private void StartReadRound()
    {
        long id = ++_nextReadId;
        _reads[id] = [.. _nextReads];
        _nextReads.Clear();
        _readInFlight = true;
        if (!group.Post(core => core.ReadIndex(id)))
        {
            _ = Task.Run(() => FailRead(id, new ReplicaUnavailableException($"grain {grain.GrainId}: its replica is not accepting reads")));
        }
    }

    /// <summary>
    /// Resigns the group for the deactivating activation; the task completes once the resignation's messages (the
    /// commit index, the lease release) were handed to the transport, or the replica stopped.
    /// </summary>
    public Task StopAsync()
    {
        var final = DeactivationSnapshot();
        var sent = group.PostUntilSentAsync(core =>
        {
            if (!ReferenceEquals(group.Listener, this)) return new Ready();
            // The grain is deactivating: nobody here will propose, so give up leadership and the state it holds (an
            // idle grain should cost its replicas little); the next activation campaigns again. Compaction first,
            // while this replica still leads: the snapshot is shipped to the followers too.
            group.SetListener(null);
            var ready = final is { } f ? core.CompactLog(f.Slot, f.Bytes) : new Ready();
            ready.Append(core.Resign());
            return ready;
        });
        LoseLeadership(new ReplicaUnavailableException($"grain {grain.GrainId}: the activation is deactivating"));
        _pump.Writer.TryComplete();
        ReleaseLogMemory(closing: true);
        return sent;
    }

    /// <summary>What this activation's commands since its last snapshot hold, charged to the silo's budget.</summary>
    public long LogMemoryHeld => Volatile.Read(ref _logMemoryHeld);

    /// <summary>
    /// The silo's budget sweep: snapshots now if the budget still asks for it, for a grain that is no longer called
    /// (the check at each apply never runs for it). On the activation's scheduler and only between the pump's Readys,
    /// so State is exactly the applied slot, as for the periodic snapshot.
    /// </summary>
    public void CompactForBudget() => grain.Scheduler.QueueAction(() =>
    {
        if (!SnapshotsBetweenReadys || !BudgetWantsSnapshot()) return;
        try
        {
            PostCompaction(SnapshotForCompaction());
        }
        catch (Exception e)
        {
            // Only an optimization, run outside any call: the grain keeps its log until its next snapshot.
            LogBudgetSnapshotFailed(effectLogger, e, grain.GrainId);
        }
    });

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grain {GrainId} could not snapshot its state for the silo's log memory budget; it keeps its log until its next snapshot")]
    private static partial void LogBudgetSnapshotFailed(ILogger logger, Exception exception, GrainId grainId);

    private bool BudgetWantsSnapshot() => logMemory.ShouldCompact(LogMemoryHeld, _appliedSinceSnapshot, (long)replicas * _lastSnapshotBytes);

    /// <summary>
    /// Outside the pump (a deactivation, the budget's sweep) State may be snapshotted only between two of its Readys,
    /// and only by an activation that serves as the leader and did not diverge.
    /// </summary>
    private bool SnapshotsBetweenReadys => !_processing && _lost is null && _leading.Task.IsCompletedSuccessfully && _divergence.Diverged is null;

    /// <summary>State at the applied slot for the group's compaction; what the log held since the last one leaves the budget.</summary>
    private byte[] SnapshotForCompaction(bool writeCheckpoint = true)
    {
        var bytes = SaveAppSnapshot(writeCheckpoint);
        _appliedSinceSnapshot = 0;
        ReleaseLogMemory(closing: false);
        return bytes;
    }

    /// <summary>
    /// Compaction is an ordinary input of the group: the core snapshots at the slot the bytes stand for, whatever it
    /// committed since.
    /// </summary>
    private void PostCompaction(byte[] snapshot)
    {
        long slot = _appliedSlot;
        group.Post(core => core.CompactLog(slot, snapshot));
    }

    private void ChargeLogMemory(long bytes)
    {
        lock (_logMemoryLock)
        {
            if (_logMemoryClosed) return;
            logMemory.Charge(_logMemoryHeld, bytes);
            Volatile.Write(ref _logMemoryHeld, _logMemoryHeld + bytes);
        }
    }

    /// <summary>
    /// After a snapshot the group's logs no longer hold those commands; once this activation ends it can no longer
    /// snapshot them (they stay until a later activation's snapshot or the group's eviction), so they leave the
    /// budget too, which is what the budget can act on.
    /// </summary>
    private void ReleaseLogMemory(bool closing)
    {
        lock (_logMemoryLock)
        {
            logMemory.Release(_logMemoryHeld);
            Volatile.Write(ref _logMemoryHeld, 0);
            _logMemoryClosed |= closing;
        }
    }

    /// <summary>
    /// State at the last applied slot, serialized, when this activation deactivates after applying at least
    /// <c>snapshotOnDeactivationAfterCommands</c> commands since its last snapshot: the next activation then starts
    /// from it and replays nothing. Taken on the activation's scheduler (Stop runs there) and only between two Readys
    /// of the pump, so State is exactly what the applied slot says; not taken when this activation may not be the
    /// one that leads (State would still be right, but a stale leader need not pay for it) or when it diverged.
    /// </summary>
    private (long Slot, byte[] Bytes)? DeactivationSnapshot()
    {
        if (snapshotOnDeactivationAfterCommands <= 0 || _appliedSinceSnapshot < snapshotOnDeactivationAfterCommands) return null;
        if (!SnapshotsBetweenReadys) return null;
        try
        {
            return (_appliedSlot, SnapshotForCompaction(writeCheckpoint: false));
        }
        catch (Exception e)
        {
            // Only an optimization: the deactivation goes on, and the next activation replays the log instead.
            LogDeactivationSnapshotFailed(effectLogger, e, grain.GrainId);
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Grain {GrainId}: this activation lost the lead before it served (a transient campaigner took it); it campaigns again ({Attempt} of {Max})")]
    private static partial void LogCampaignsAgain(ILogger logger, GrainId grainId, int attempt, int max);

    /// <summary>
    /// Warning with what this replica knew of its group when a call here timed out (what did not answer). No timer of
    /// its own: the ask runs on the group's worker (simulated time in the engine simulator), and a failed group throws.
    /// </summary>
    private async Task LogNotChosenAsync()
    {
        string state;
        try
        {
            state = await group.AskAsync(core => (
                $"role {core.Role}, promised {core.Promised}, leading with {core.LeaderBallot?.ToString() ?? "none"}, commit {core.CommitIndex}, "
                + $"applied {core.AppliedIndex}, configuration [{string.Join(",", core.Config.Members)}], latest [{string.Join(",", core.Configs.Latest.Members)}], "
                + $"work in flight {core.HasInFlightWork}", new Ready()));
        }
        catch (Exception e)
        {
            state = $"not known ({e.GetType().Name})";
        }
        LogNotChosen(effectLogger, grain.GrainId, grain.ActivationId, state, Describe());
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grain {GrainId} activation {ActivationId}: a call was not chosen within the call timeout; its replica here: {State}; {Activation}")]
    private static partial void LogNotChosen(ILogger logger, GrainId grainId, ActivationId activationId, string state, string activation);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Grain {GrainId} could not snapshot its state as it deactivated; its next activation replays the log")]
    private static partial void LogDeactivationSnapshotFailed(ILogger logger, Exception exception, GrainId grainId);

    /// <summary>Called on the engine's worker: queues the Ready for the activation's pump and returns at once.</summary>
    public void OnReady(Ready ready)
    {
        if (!ready.HasEffects) return;
        int commands = 0;
        if (ready.HasCommitted) foreach (var entry in ready.Committed) commands += entry.Commands.Count;
        Interlocked.Add(ref _unapplied, commands);
        // A completed writer means the activation stopped: what it would have applied stays in the log for the next one.
        _pump.Writer.TryWrite(ready);
    }

    public void OnDisplaced(Exception reason)
    {
        LoseLeadership(reason);
        grain.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "another activation of this replicated grain on this silo took its group"));
        _pump.Writer.TryComplete();
        ReleaseLogMemory(closing: true);
    }

    public void OnFailed(Exception exception)
    {
        // No inner exception: this one goes back to callers, and the cause (e.g. the WAL's WalFailedException) has no
        // Orleans codec, so the caller got a CodecNotFoundException instead of a retriable error. The silo logs the cause.
        LoseLeadership(new ReplicaUnavailableException($"grain {grain.GrainId}: its replica on this silo stopped: {exception.GetType().Name}: {exception.Message}"));
        grain.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationError, "replicated grain detached from its group"));
        ReleaseLogMemory(closing: true);
    }

    private async Task PumpAsync()
    {
        // WaitToReadAsync + TryRead rather than ReadAllAsync: its iterator resumes on the thread pool before it hops
        // back to the activation's scheduler; this loop resumes on that scheduler directly (and, in the simulator,
        // on the simulated silo's one thread).
        var reader = _pump.Reader;
        while (await reader.WaitToReadAsync())
        {
            if (!reader.TryRead(out var ready)) continue;
            _processing = true;
            try
            {
                if (await ProcessAsync(ready) is { } snapshot) PostCompaction(snapshot);
            }
            catch (Exception e)
            {
                // Applying failed outside the grain's methods (their exceptions are results): this activation cannot
                // go on in slot order. Detach it and deactivate; the next activation replays the log.
                _pump.Writer.TryComplete();
                _ = StopAsync();
                OnFailed(e);
                return;
            }
            finally
            {
                _processing = false;
                int commands = 0;
                foreach (var entry in ready.Committed) commands += entry.Commands.Count;
                Interlocked.Add(ref _unapplied, -commands);
            }
        }
    }

    /// <summary>Applies one Ready's effects in order, on the activation's scheduler.</summary>
    private async Task<byte[]?> ProcessAsync(Ready ready)
    {
        if (ready.SnapshotToInstall is { } snapshot)
        {
            LoadAppSnapshot(snapshot.AppState, snapshot.Slot);
            _appliedSlot = snapshot.Slot;
        }
        foreach (var entry in ready.Committed)
        {
            // Already in State: the engine merges one step's inputs into one Ready, so entries committed by an input
            // that ran before this activation attached (in the same step) come both in its replay and in this Ready;
            // and a group rebuilt from disk hands its committed tail out again on its first step (Start).
            if (entry.Slot <= _appliedSlot && !group.PlantedBugs.HasFlag(EngineBug.ReapplyOnAttach)) continue;
            for (int i = 0; i < entry.Commands.Count; i++)
            {
                var (command, duplicate) = entry.Commands[i];
                if (command.Payload.Length == 0) continue; // a filler: nothing to run
                if (OutboxRecord.IsRecord(command))
                {
                    long effect = OutboxRecord.ReadDone(command);
                    _machine.Outbox.Complete(effect);
                    _effects.Completed(effect);
                    continue;
                }
                if (CallFence.IsFence(command))
                {
                    if (!duplicate)
                    {
                        // The fence took the stamp: the call it stands for is never applied; a late retry learns so.
                        _replies.Record(command, CallFence.Outcome(command));
                        Complete(command.Id, CallFence.Outcome(command));
                    }
                    EndFence(command.Id, ResolutionOf(command.Id));
                    continue;
                }
                if (DivergenceRecord.IsRecord(command))
                {
                    if (!duplicate) _divergence.OnRecord(command);
                    Complete(command.Id, new CommandOutcome(null, null)); // an operator's acceptance waits for this
                    continue;
                }
                if (duplicate)
                {
                    _tracing.Forget(command.Id);
                    if (!_replies.TryGet(command.Id, out var stored)) Complete(command.Id, new CommandOutcome(null, new ReplicaUnavailableException("the reply of this retried call is no longer kept")));
                    else if (!stored.Pending) Complete(command.Id, stored.ToOutcome());
                    else MarkDeferred(command.Id); // a pending deferred call keeps its caller waiting
                    continue;
                }
                _tracing.Chosen(command.Id, entry.Slot);
                CommandOutcome outcome;
                long applyStarted = Stopwatch.GetTimestamp();
                using (_tracing.StartApply(command.Id, entry.Slot)) outcome = await ApplyAsync(command, entry.Slot, i);
                _tracing.Applied(command.Id, Stopwatch.GetElapsedTime(applyStarted));
                if (outcome.Deferred) MarkDeferred(command.Id);
                else Complete(command.Id, outcome);
                foreach (var answered in outcome.Completions)
                {
                    Complete(new CommandId(answered.Call.ClientId, answered.Call.Sequence), new CommandOutcome(answered.Result, answered.Exception));
                }
            }
            _appliedSlot = entry.Slot;
        }
        foreach (var rejection in ready.Rejections)
        {
            if (rejection.Command is not { } command) continue;
            if (CallFence.IsFence(command))
            {
                if (rejection.Reason == RejectionReason.AlreadyApplied) EndFence(command.Id, ResolutionOf(command.Id));
                else FailFence(command.Id, new ReplicaUnavailableException($"grain {grain.GrainId}: {rejection}"));
                continue;
            }
            if (rejection.Reason == RejectionReason.AlreadyApplied && _replies.TryGet(command.Id, out var stored))
            {
                if (!stored.Pending) Complete(command.Id, stored.ToOutcome());
                else MarkDeferred(command.Id); // its answer will come from a later command
            }
            else Fail(command.Id, new ReplicaUnavailableException($"grain {grain.GrainId}: {rejection}"));
        }
        foreach (var command in ready.Abandoned)
        {
            if (CallFence.IsFence(command))
            {
                FailFence(command.Id, new ReplicaUnavailableException($"grain {grain.GrainId}: leadership moved while the outcome was being resolved; retry"));
                continue;
            }
            Fail(command.Id, new ReplicaUnavailableException($"grain {grain.GrainId}: leadership moved while the call was in flight; retry with the same stamp"));
        }
        foreach (var read in ready.Reads) CompleteRead(read.RequestId);
        foreach (long read in ready.FailedReads) FailRead(read, new ReplicaUnavailableException($"grain {grain.GrainId}: this activation no longer leads"));
        // Campaigns and leader changes are counted by the group (GroupMetrics), for every group kind.
        if (ready.BecameLeader)
        {
            _leaderFloor = ready.LeaderFloor;
            if (_leaderAt == 0) _leaderAt = Stopwatch.GetTimestamp();
        }
        TryStartServing();
        if (ready.LostLeadership)
        {
            // Only an unambiguous loss (a Ready that merged a gain and a loss does not say which came last).
            if (!_leading.Task.IsCompleted && _lost is null && !ready.BecameLeader && _startCampaigns < MaxStartCampaigns)
            {
                // Not serving yet: the lead went to a transient campaigner (a rebalancer driving the group's move while
                // this activation arrived, by migration or a call), not to an activation that serves. Campaign again
                // rather than fail the activation: a failed activation that arrived by migration held Orleans'
                // migration batch to this silo, and every migration queued behind it, for the 30 s response timeout
                // (ScaleOutTests' rolling replacement: calls to the grains queued behind it went unanswered for 25 s).
                _startCampaigns++;
                _leaderFloor = null;
                LogCampaignsAgain(effectLogger, grain.GrainId, _startCampaigns, MaxStartCampaigns);
                group.Post(core => ReferenceEquals(group.Listener, this) && !core.IsLeader ? core.Campaign() : new Ready());
            }
            else
            {
                LoseLeadership(new ReplicaUnavailableException($"grain {grain.GrainId}: a newer activation took over; retry"));
                grain.Deactivate(new DeactivationReason(DeactivationReasonCode.ApplicationRequested, "replicated grain lost leadership of its group"));
            }
        }
        StartEffects();
        return _appliedSinceSnapshot >= snapshotEveryCommands || BudgetWantsSnapshot() ? SnapshotForCompaction() : null;
    }

    private async Task<CommandOutcome> ApplyAsync(Command command, long slot, int index)
    {
        var (timestamp, invokable) = CommandPayload.Decode(command.Payload);
        var call = new CallId(command.ClientId, command.Sequence);
        long position = CommandPayload.Position(slot, index);
        var outcome = await _machine.ApplyAsync(invokable, new CommandPosition(position, timestamp, call));
        _replies.Record(command, outcome);
        foreach (var answered in outcome.Completions) _replies.RecordCompletion(answered);
        _appliedSinceSnapshot++;
        ChargeLogMemory(LogMemoryBudget.SizeOf(command, replicas));
        // A digest is due: the leading activation writes it into the log for later replays to compare (while replaying,
        // the digest is only kept, to compare with the checkpoint the earlier activation wrote).
        if (_divergence.OnApplied(position) is { } checkpoint && Leads) group.Propose(checkpoint);
        return outcome;
    }

    /// <summary>
    /// Leading is not enough to serve: the values chosen before this leadership (re-proposed after phase 1) must be
    /// applied first, so a divergence they reveal refuses the first call rather than the one after it, and a read or
    /// a call never runs on a State that misses an earlier decision.
    /// </summary>
    /// <summary>This replica leads the group (it may still be catching up): its digests are worth writing into the log.</summary>
    private bool Leads => _leaderFloor is not null && _lost is null;

    /// <summary>
    /// Campaigns again if this activation does not serve yet and its replica neither leads nor campaigns: its campaign
    /// was beaten by a transient campaigner (a rebalancer moving the group as the activation arrived, which resigns once
    /// done). It never led, so no loss of the lead tells it to campaign again, and it waited for its start's timeout
    /// (5 s in the test kit) while every call to the grain waited with it (session 25, a silo that had just joined).
    /// Called on a timer by the host (<see cref="ConsensusCallReplicator"/>) and, on simulated time, by the engine
    /// simulator's activations; bounded like the campaigns after a lost lead. Returns whether it campaigned.
    /// </summary>
    public async Task<bool> CampaignAgainIfIdleAsync()
    {
        if (_leading.Task.IsCompleted || _lost is not null || _startCampaigns >= MaxStartCampaigns) return false;
        bool again = await group.AskAsync(core =>
        {
            bool idle = ReferenceEquals(group.Listener, this) && core.Role == ReplicaRole.Follower;
            return (idle, idle ? core.Campaign() : new Ready());
        });
        if (again)
        {
            _startCampaigns++;
            LogCampaignsAfterDefeat(effectLogger, grain.GrainId, _startCampaigns, MaxStartCampaigns);
        }
        return again;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Grain {GrainId}: this activation's campaign was beaten before it served and nobody leads from here; it campaigns again ({Attempt} of {Max})")]
    private static partial void LogCampaignsAfterDefeat(ILogger logger, GrainId grainId, int attempt, int max);

    /// <summary>Campaigns again after losing the lead before serving; past this, the activation fails as before (two activations dueling).</summary>
    private const int MaxStartCampaigns = 3;

    private int _startCampaigns;

    private void TryStartServing()
    {
        if (_leaderFloor is { } floor && _appliedSlot >= floor && _lost is null) _leading.TrySetResult();
    }

    /// <summary>The activation finished activating (its first call arrived): pending outbox effects may run.</summary>
    public void Activated()
    {
        _activated = true;
        StartEffects();
    }

    /// <summary>Outbox effects run on the activation that serves the grain, once it is active.</summary>
    private void StartEffects()
    {
        if (_activated && _leading.Task.IsCompletedSuccessfully && _lost is null && _machine.Outbox.Count > 0) _effects.StartPending();
    }

    private Command NewLocalCommand(byte[] invokable)
    {
        // An unstamped call still needs an identity to find its caller; its floor lets the session forget it at once.
        long sequence = Interlocked.Increment(ref _localSequence);
        return new Command(_localClient, sequence, sequence, CommandPayload.Encode(entryClock.Now(), invokable));
    }

    /// <summary>
    /// The snapshot carries the state's digest, and the leader also writes it into the log for replays from older
    /// snapshots (<paramref name="writeCheckpoint"/>; not at deactivation, where the leader resigns in the same step).
    /// </summary>
    private byte[] SaveAppSnapshot(bool writeCheckpoint = true)
    {
        long started = Stopwatch.GetTimestamp();
        var digest = _divergence.TryDigest();
        if (writeCheckpoint && digest is { } current && Leads) group.Propose(_divergence.CheckpointAt(current));
        var bytes = serializer.SerializeToArray(new ReplicatedAppSnapshot
        {
            State = _machine.SaveState(),
            Replies = _replies.ToList(),
            StateDigest = digest,
            CommandsApplied = _divergence.CommandsApplied,
            Outbox = _machine.Outbox.Save(),
            OutboxNextSequence = _machine.Outbox.NextSequence,
        });
        instruments.SnapshotTaken(Stopwatch.GetElapsedTime(started), bytes.Length);
        _lastSnapshotBytes = bytes.Length;
        return bytes;
    }

    private void LoadAppSnapshot(byte[] bytes, long slot)
    {
        _lastSnapshotBytes = bytes.Length;
        if (bytes.Length == 0) return; // a snapshot taken before any command: nothing to load
        var snapshot = serializer.Deserialize<ReplicatedAppSnapshot>(bytes)
            ?? throw new InvalidDataException($"grain {grain.GrainId}: its log snapshot holds no state");
        _machine.LoadState(snapshot.State);
        _replies.Load(snapshot.Replies);
        _machine.Outbox.Load(snapshot.Outbox, snapshot.OutboxNextSequence);
        _divergence.Restore(slot, snapshot.CommandsApplied, snapshot.StateDigest);
    }

    private void MarkDeferred(CommandId id)
    {
        lock (_deferred) _deferred.Add(id);
    }

    private void Complete(CommandId id, CommandOutcome outcome)
    {
        TaskCompletionSource<CommandOutcome>? waiter;
        lock (_deferred) _deferred.Remove(id);
        lock (_waiters) _waiters.Remove(id, out waiter);
        waiter?.TrySetResult(outcome);
    }

    private void Fail(CommandId id, Exception exception)
    {
        _tracing.Forget(id);
        TaskCompletionSource<CommandOutcome>? waiter;
        lock (_waiters) _waiters.Remove(id, out waiter);
        waiter?.TrySetException(exception);
    }

    private void CompleteRead(long id) => EndReadRound(id, null);

    private void FailRead(long id, Exception exception) => EndReadRound(id, exception);

    private void EndReadRound(long id, Exception? exception)
    {
        List<TaskCompletionSource>? round;
        lock (_reads)
        {
            if (!_reads.Remove(id, out round)) return;
            _readInFlight = false;
            if (_nextReads.Count > 0 && _lost is null) StartReadRound();
        }
        foreach (var done in round)
        {
            if (exception is null) done.TrySetResult();
            else done.TrySetException(exception);
        }
    }

    private void LoseLeadership(Exception reason)
    {
        _lost ??= reason;
        _effects.Stop();
        _leading.TrySetException(reason);
        List<TaskCompletionSource<CommandOutcome>> waiters;
        List<TaskCompletionSource> reads;
        lock (_waiters)
        {
            waiters = [.. _waiters.Values];
            _waiters.Clear();
        }
        lock (_reads)
        {
            reads = [.. _reads.Values.SelectMany(r => r), .. _nextReads];
            _reads.Clear();
            _nextReads.Clear();
        }
        foreach (var w in waiters) w.TrySetException(reason);
        List<TaskCompletionSource<CallResolution>> fences;
        lock (_fences)
        {
            fences = [.. _fences.Values];
            _fences.Clear();
        }
        foreach (var f in fences) f.TrySetException(reason);
        foreach (var r in reads) r.TrySetException(reason);
    }

    private void ThrowIfLost()
    {
        if (_lost is { } reason) throw new ReplicaUnavailableException(reason.Message);
    }
}

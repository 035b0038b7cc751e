using System.Diagnostics;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Concurrency;
using Orleans.Placement;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Serialization.Invocation;

namespace OpenReplica.Orleans;

/// <summary>
/// Base class of replicated grains. Every call that is not read-only is serialized (its <c>IInvokable</c>), chosen
/// into the grain's log by the silo's <see cref="ICallReplicator"/>, and only then executed against
/// <see cref="State"/>; a new activation rebuilds <see cref="State"/> by replaying the log through the same
/// execution path. Methods must therefore be deterministic: read <see cref="State"/>, arguments and
/// <see cref="Replicated"/> only. A method that throws leaves <see cref="State"/> as it was before the call, and the
/// caller gets the exception. <typeparamref name="TState"/> must be copyable by Orleans ([GenerateSerializer]).
/// </summary>
/// <remarks>
/// <para>
/// Reentrancy: the class is <see cref="ReentrantAttribute">[Reentrant]</see> so that several calls can wait for
/// consensus at once (pipelining: a non-reentrant grain would hold every call until the previous one is chosen,
/// one consensus round trip per call). Reentrancy does NOT reorder execution: the filter only waits while the
/// call is being chosen; execution goes through one chain (<c>ApplyAsync</c>) that runs commands one at a
/// time, in the replicator's slot order, each to completion (including its awaits) before the next starts.
/// Read-only calls run directly and may interleave with a command's await; keep state changes synchronous.
/// </para>
/// <para>
/// <see cref="ImmovableAttribute">[Immovable]</see>: migration would carry <see cref="State"/> outside the log;
/// a grain moves only by deactivation and replay.
/// </para>
/// </remarks>
[Reentrant]
[Replicated]
[Immovable]
public abstract class ReplicatedGrain<TState> : Grain, IIncomingGrainCallFilter, IReplicatedStateMachine, ILifecycleParticipant<IGrainLifecycle>,
    IReplicatedGrainDivergence, IReplicatedCallOutcome
    where TState : new()
{
    private ReplicatedGrainServices? _services;
    private DeepCopier<TState>? _stateCopier;
    private Task _applyTail = Task.CompletedTask;
    private long _lastSlot = long.MinValue;
    private readonly EffectOutbox _outbox = new();
    private bool _activationReported;
    private bool _recovering; // the activation replays the log before it serves (lifecycle requests of replayed calls are ignored)
    private MethodInfo? _lastMethod; // the method of this activation's last call, and its kind: most calls repeat one
    private MethodKind _lastKind;

    /// <summary>The replicated state: changed only by commands chosen into the log.</summary>
    protected TState State { get; private set; } = new();

    /// <summary>Time and randomness of the command being executed, identical on replay.</summary>
    protected ReplicatedContext Replicated { get; private set; } = ReplicatedContext.Initial;

    private ReplicatedGrainServices Services => _services ??= ServiceProvider.GetRequiredService<ReplicatedGrainServices>();

    /// <summary>
    /// Every call passes here. A read under the leader lease and a grain extension's call run as a plain grain's call
    /// would (no state machine, no timer of their own: this is the hot path of lease reads); everything else waits
    /// for consensus first.
    /// </summary>
    Task IIncomingGrainCallFilter.Invoke(IIncomingGrainCallContext context)
    {
        StampOutOfResponse.Apply();
        if (!_activationReported) ReportActivated();
        switch (KindOf(context))
        {
            case MethodKind.Extension:
                return context.Invoke();
            case MethodKind.ReadOnly when Services.Replicator.CanReadLocally(GrainContext):
                Services.Instruments.Read(underLease: true);
                return Services.Instruments.CallDurationsRecorded ? TimedReadAsync(context, Stopwatch.GetTimestamp()) : context.Invoke();
            case MethodKind.ReadOnly:
                Services.Instruments.Read(underLease: false);
                return ReadAfterBarrierAsync(context);
            default:
                return ReplicateAsync(context);
        }
    }

    private void ReportActivated()
    {
        // The first call runs after OnActivateAsync (Orleans' lifecycle stages all run before it): from now on the
        // grain's own code may run, so pending outbox effects may start. Every activation is created by a call.
        _activationReported = true;
        Services.Replicator.Activated(GrainContext);
    }

    private async Task TimedReadAsync(IIncomingGrainCallContext context, long started)
    {
        await context.Invoke();
        Services.Instruments.CallCompleted(readOnly: true, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>
    /// Read-only, no lease to read under: no log write, but wait until this activation has confirmed it leads and has
    /// applied everything chosen before the read began (read-index), so the read is linearizable.
    /// </summary>
    private async Task ReadAfterBarrierAsync(IIncomingGrainCallContext context)
    {
        long started = Stopwatch.GetTimestamp();
        using (var readTimeout = new CancellationTokenSource(Services.CallTimeout))
        {
            try
            {
                await Services.Replicator.ReadBarrierAsync(GrainContext, readTimeout.Token);
            }
            catch (Exception exception) when (Replication.LogFailure.Is(exception))
            {
                throw Replication.LogFailure.ForCallers(GrainContext.GrainId, exception);
            }
        }
        await context.Invoke();
        Services.Instruments.CallCompleted(readOnly: true, Stopwatch.GetElapsedTime(started));
    }

    private async Task ReplicateAsync(IIncomingGrainCallContext context)
    {
        long started = Stopwatch.GetTimestamp();
        // First: the request object is pooled and reused once this call's turn ends.
        var invokable = Services.Serializer.SerializeToArray<IInvokable>(context.Request);
        if (invokable.Length > Services.MaxCallBytes)
        {
            throw new ArgumentException(
                $"The call {context.InterfaceMethod?.DeclaringType?.Name}.{context.InterfaceMethod?.Name} to grain {GrainContext.GrainId} serializes to "
                + $"{invokable.Length:N0} bytes, more than ReplicatedGrainsOptions.MaxCallBytes ({Services.MaxCallBytes:N0}): a replicated call's "
                + "arguments travel in the grain's log and in one message to each replica. Pass large data by reference (a blob's key), "
                + "or raise the limit (below Orleans' MaxMessageBodySize). The call was not applied.");
        }
        var stamp = CallStamp.Current;
        using var timeout = new CancellationTokenSource(Services.CallTimeout);
        object? result;
        try
        {
            result = await Services.Replicator.ReplicateAsync(GrainContext, invokable, stamp, timeout.Token);
        }
        catch (Exception exception) when (Replication.LogFailure.Is(exception))
        {
            throw Replication.LogFailure.ForCallers(GrainContext.GrainId, exception);
        }
        context.Result = Services.Copier.Copy(result);
        Services.Instruments.CallCompleted(readOnly: false, Stopwatch.GetElapsedTime(started));
    }

    /// <summary>
    /// Rebuilds the state before <c>OnActivateAsync</c> runs, at the stage where <c>Grain&lt;TState&gt;</c> reads storage.
    /// A derived class that overrides this must call the base implementation.
    /// </summary>
    public virtual void Participate(IGrainLifecycle lifecycle) =>
        lifecycle.Subscribe(GetType().FullName ?? nameof(ReplicatedGrain<TState>), GrainLifecycleStage.SetupState, RecoverAsync, DetachAsync);

    /// <summary>
    /// Runs a side effect a call declared with <see cref="ReplicatedContext.AfterCommit"/>, after that call was chosen
    /// and applied, on the activation that leads the grain (it may interleave with other calls: read State if needed,
    /// but do not change it — send a replicated call to yourself for that). Completing marks the effect done in the
    /// log; throwing retries it with backoff; an activation that stops first leaves it to the next one. Calls to
    /// replicated grains made here are stamped from <see cref="ReplicatedEffect.Id"/> (exactly once); anything else
    /// should use that id as its idempotency key. The default throws: a grain that declares effects overrides this.
    /// </summary>
    protected virtual Task OnEffectAsync(ReplicatedEffect effect, CancellationToken cancellationToken) =>
        throw new NotSupportedException(
            $"{GetType().Name} declared an effect of type {effect.Value.GetType().Name} with Replicated.AfterCommit but does not override OnEffectAsync to run it");

    /// <inheritdoc/>
    EffectOutbox IReplicatedStateMachine.Outbox => _outbox;

    /// <inheritdoc/>
    async Task IReplicatedStateMachine.RunEffectAsync(long sequence, int attempt, CancellationToken cancellationToken)
    {
        var value = Services.Serializer.Deserialize<object>(_outbox.Get(sequence))
            ?? throw new InvalidOperationException($"Grain {GrainContext.GrainId}: effect {sequence} deserialized to null");
        var effect = new ReplicatedEffect(EffectOutbox.IdOf(GrainContext.GrainId, sequence), value, sequence, attempt);
        using (EffectStampScope.Enter(effect.Id))
        {
            await OnEffectAsync(effect, cancellationToken);
        }
    }

    /// <inheritdoc/>
    Task<CommandOutcome> IReplicatedStateMachine.ApplyAsync(byte[] invokable, CommandPosition position) => Enqueue(invokable, position);

    /// <inheritdoc/>
    Task IReplicatedStateMachine.ApplyReplayedAsync(byte[] invokable, CommandPosition position) => Enqueue(invokable, position);

    /// <summary>
    /// Read-only calls (<see cref="ReadOnlyAttribute">[ReadOnly]</see> on the interface method, or marked read-only in
    /// the request) and calls that are not the grain's own methods (grain extensions: management, deactivation) run
    /// directly, outside the log; only the first wait for a read barrier.
    /// </summary>
    private MethodKind KindOf(IIncomingGrainCallContext context)
    {
        var method = context.InterfaceMethod;
        if (!ReferenceEquals(method, _lastMethod))
        {
            // Turns of one activation never run at once (reentrancy interleaves them only at awaits): no torn pair.
            _lastKind = MethodKinds.GetOrAdd((GetType(), method), static key => Classify(key.Grain, key.Method));
            _lastMethod = method;
        }
        var kind = _lastKind;
        bool readOnlyRequest = ReadOnlyRequests.IsMarked(context.Request);
        return kind == MethodKind.Replicated && readOnlyRequest ? MethodKind.ReadOnly : kind;
    }

    // Reflection once per grain class and method, not per call.
    private static readonly System.Collections.Concurrent.ConcurrentDictionary<(Type Grain, MethodInfo Method), MethodKind> MethodKinds = new();

    private enum MethodKind { Replicated, ReadOnly, Extension }

    private static MethodKind Classify(Type grain, MethodInfo method)
    {
        var declaringInterface = method.DeclaringType;
        bool own = declaringInterface is not null
            && !typeof(IGrainExtension).IsAssignableFrom(declaringInterface)
            && declaringInterface.IsAssignableFrom(grain);
        if (!own) return MethodKind.Extension;
        return method.IsDefined(typeof(ReadOnlyAttribute), inherit: true) ? MethodKind.ReadOnly : MethodKind.Replicated;
    }

    private async Task RecoverAsync(CancellationToken cancellationToken)
    {
        _recovering = true;
        try
        {
            await Services.Replicator.RecoverAsync(GrainContext, cancellationToken);
        }
        catch (Exception exception) when (Replication.LogFailure.Is(exception))
        {
            throw Replication.LogFailure.ForCallers(GrainContext.GrainId, exception);
        }
        finally
        {
            _recovering = false;
        }
    }

    /// <summary>
    /// Deactivates this activation once it is idle, as Orleans' <c>Grain.DeactivateOnIdle</c> does, when a call asks
    /// for it live; ignored while a new activation replays the log to rebuild <see cref="State"/>. The call that asked
    /// already deactivated the activation it ran on; replaying it must not deactivate every later activation as it
    /// starts (each would stop before serving, and the grain's callers would be forwarded from one stopping activation
    /// to the next until they give up).
    /// </summary>
    protected new void DeactivateOnIdle()
    {
        if (!_recovering) base.DeactivateOnIdle();
    }

    private Task DetachAsync(CancellationToken cancellationToken) => Services.Replicator.DetachAsync(GrainContext);

    /// <inheritdoc/>
    byte[] IReplicatedStateMachine.SaveState() => Services.Serializer.SerializeToArray(State);

    /// <inheritdoc/>
    void IReplicatedStateMachine.LoadState(byte[] state) => State = Services.Serializer.Deserialize<TState>(state) ?? new TState();

    /// <inheritdoc/>
    ulong IReplicatedStateMachine.DigestState() => StateDigest.Compute(State);

    /// <inheritdoc/>
    Task<DivergenceReport?> IReplicatedGrainDivergence.GetDivergence() => Task.FromResult(Services.Replicator.GetDivergence(GrainContext));

    /// <inheritdoc/>
    async Task IReplicatedGrainDivergence.AcceptReplayedState(string reason)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(reason);
        using var timeout = new CancellationTokenSource(Services.CallTimeout);
        await Services.Replicator.AcceptDivergenceAsync(GrainContext, reason, timeout.Token);
    }

    /// <inheritdoc/>
    async Task<CallResolution> IReplicatedCallOutcome.ResolveCall(CallStamp stamp)
    {
        using var timeout = new CancellationTokenSource(Services.CallTimeout);
        return await Services.Replicator.ResolveCallAsync(GrainContext, stamp, timeout.Token);
    }

    /// <summary>Queues a chosen command behind the previous one: commands run one at a time, in slot order.</summary>
    private Task<CommandOutcome> Enqueue(byte[] invokable, CommandPosition position)
    {
        if (position.Slot <= _lastSlot)
        {
            throw new InvalidOperationException(
                $"Grain {GrainContext.GrainId}: command for slot {position.Slot} arrived after slot {_lastSlot}; slots must be applied once each, in increasing order.");
        }

        _lastSlot = position.Slot;
        var previous = _applyTail;
        var next = RunAfterAsync(previous, invokable, position);
        _applyTail = next;
        return next;
    }

    private async Task<CommandOutcome> RunAfterAsync(Task previous, byte[] invokable, CommandPosition position)
    {
        await previous; // never faults: ExecuteAsync returns failures as outcomes
        return await ExecuteAsync(invokable, position);
    }

    /// <summary>
    /// The one execution path of a chosen command, for live calls and replay alike: deserialize the invokable,
    /// target this activation, invoke, and take the response; on an exception, restore the state copied before.
    /// </summary>
    private async Task<CommandOutcome> ExecuteAsync(byte[] invokable, CommandPosition position)
    {
        _stateCopier ??= ServiceProvider.GetRequiredService<DeepCopier<TState>>();
        var before = _stateCopier.Copy(State);
        Replicated = new ReplicatedContext(position);

        CommandOutcome outcome;
        IInvokable? request = null;
        try
        {
            request = Services.Serializer.Deserialize<IInvokable>(invokable)
                ?? throw new InvalidOperationException($"Grain {GrainContext.GrainId}: command at slot {position.Slot} deserialized to null.");
            request.SetTarget(GrainContext);
            using var response = await request.Invoke();
            outcome = new CommandOutcome(response.Exception is null ? response.Result : null, response.Exception);
        }
        catch (Exception exception)
        {
            outcome = new CommandOutcome(null, exception is TargetInvocationException { InnerException: { } inner } ? inner : exception);
        }
        finally
        {
            request?.Dispose();
        }

        // A deferred call (no reply yet) keeps its state changes (the waiter it recorded) like a call that returned.
        if (outcome.Exception is not null && !outcome.Deferred)
        {
            // The call failed: its state changes, any answers it gave and the effects it declared are undone.
            State = before!;
            return outcome;
        }

        if (DeclareEffects(position) is { } failure)
        {
            State = before!;
            return new CommandOutcome(null, failure);
        }

        return outcome with { Completions = Replicated.Completions };
    }

    /// <summary>Puts the call's effects into the outbox, all or none: an effect that cannot be serialized fails the call.</summary>
    private Exception? DeclareEffects(CommandPosition position)
    {
        if (Replicated.Effects.Count == 0) return null;
        var serialized = new List<byte[]>(Replicated.Effects.Count);
        foreach (var effect in Replicated.Effects)
        {
            try
            {
                serialized.Add(Services.Serializer.SerializeToArray<object>(effect));
            }
            catch (Exception exception)
            {
                return new InvalidOperationException(
                    $"Grain {GrainContext.GrainId}: the effect of type {effect.GetType().FullName} declared at slot {position.Slot} cannot be serialized "
                    + $"by Orleans (mark it [GenerateSerializer]); the call is not applied. {exception.Message}",
                    exception);
            }
        }
        foreach (var bytes in serialized) _outbox.Add(bytes);
        return null;
    }
}

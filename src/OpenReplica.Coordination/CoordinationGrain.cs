using System.Diagnostics.CodeAnalysis;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenReplica.Orleans;
using Orleans.Runtime;

namespace OpenReplica.Coordination;

/// <summary>Replicated state shared by the leased coordination objects: the holders' leases and their length.</summary>
[GenerateSerializer]
internal abstract class CoordinationState
{
    /// <summary>Session → lease expiry (log time). Only sessions that hold something have a lease.</summary>
    [Id(0)] public Dictionary<Guid, DateTimeOffset> Leases { get; set; } = [];

    [Id(1)] public TimeSpan LeaseDuration { get; set; } = CoordinationDefaults.LeaseDuration;

    /// <summary>
    /// The object's clock: the latest <c>Replicated.Now</c> of any command applied so far. Each entry's time is its
    /// proposer's clock when the call arrived, and a call queued while its grain could not reach a quorum (or
    /// proposed by an older activation) is chosen after calls that arrived later, so entry times can step back by as
    /// much as an outage lasted. Leases and deadlines are reckoned on this clock, which never steps back: a hold
    /// granted while such a stale entry is applied lasts its full duration from the newest time the log has seen.
    /// </summary>
    [Id(2)] public DateTimeOffset Clock { get; set; }
}

/// <summary>What a queued waiter's call returns when it is granted (its method's return type).</summary>
internal enum GrantReply
{
    /// <summary>A <c>Task</c> method: completes with no value.</summary>
    None = 0,

    /// <summary>A <c>Task&lt;bool&gt;</c> method: <c>true</c>.</summary>
    True = 1,

    /// <summary>A <c>Task&lt;bool&gt;</c> method: <c>false</c> (a timed-out condition wait that re-acquired its lock).</summary>
    False = 2,
}

/// <summary>
/// Base of the leased coordination grains (locks, semaphores, conditions). Every command first applies what is due
/// by the log's clock (<c>Replicated.Now</c>) — expired leases and waiter deadlines, in time order — then renews the
/// caller's lease, runs, and finally drops leases of sessions that no longer hold anything. While something is due
/// (a lease, a deadline), the activation keeps a one-shot timer that calls <see cref="ICoordinationMaintenance.ExpireWaiters"/> on the grain
/// through its own reference, so that expiry is itself a log entry: every replay decides it the same way.
/// </summary>
/// <summary>A queued caller that may give up at a deadline (log time).</summary>
internal interface ITimedWaiter
{
    CallId Call { get; }

    DateTimeOffset? Deadline { get; }
}

internal abstract class CoordinationGrain<TState> : ReplicatedGrain<TState>, ILeasedGrain, ICoordinationMaintenance
    where TState : CoordinationState, new()
{
    /// <summary>The earliest deadline among <paramref name="waiters"/>, or null when none has one.</summary>
    protected static DateTimeOffset? EarliestDeadline<TWaiter>(IEnumerable<TWaiter> waiters) where TWaiter : ITimedWaiter =>
        waiters.Min(w => w.Deadline);

    /// <summary>Removes the waiters whose deadline passed by <paramref name="time"/> and answers them false (a timed acquire that gave up).</summary>
    protected void ExpireQueued<TWaiter>(List<TWaiter> queue, DateTimeOffset time) where TWaiter : ITimedWaiter
    {
        foreach (var waiter in queue.Where(w => w.Deadline <= time).ToList())
        {
            queue.Remove(waiter);
            Replicated.Complete(waiter.Call, false);
        }
    }

    private static readonly TimeSpan MinTimerDelay = TimeSpan.FromMilliseconds(5);
    private static readonly TimeSpan RetryDelay = TimeSpan.FromMilliseconds(200);

    private IGrainTimer? _timer;
    private bool _active;
    private DateTimeOffset? _armedFor;
    private ILogger? _logger;
    private TimeProvider? _time;

    private ILogger Logger => _logger ??= ServiceProvider.GetRequiredService<ILoggerFactory>().CreateLogger(GetType());

    [SuppressMessage("OpenReplica.Determinism", "ORD001", Justification = "Activation-local expiry timer: it never changes State and does nothing during replay (_active); expiry itself is a new command (ExpireWaiters) chosen into the log.")]
    private TimeProvider Time => _time ??= ServiceProvider.GetService<TimeProvider>() ?? TimeProvider.System;

    /// <summary>The session of the call being applied (its owner identity).</summary>
    protected Guid Caller
    {
        get
        {
            var session = Replicated.Call.ClientId;
            if (session == Guid.Empty)
            {
                throw new InvalidOperationException(
                    $"{GetType().Name} '{this.GetPrimaryKeyString()}': the call has no session; callers must use UseReplicatedGrains() (clients) or AddReplicatedGrains() (silos).");
            }

            return session;
        }
    }

    /// <summary>The grain's key, for messages.</summary>
    protected string Key => this.GetPrimaryKeyString();

    // ---- what a derived object decides ----

    /// <summary>Whether <paramref name="session"/> holds anything on this object.</summary>
    protected abstract bool Holds(Guid session);

    /// <summary>The lease of <paramref name="session"/> expired: release everything it holds and wake waiters.</summary>
    protected abstract void OnLeaseExpired(Guid session);

    /// <summary>The earliest deadline among the waiters, if any has one.</summary>
    protected abstract DateTimeOffset? NextWaiterDeadline();

    /// <summary>Answers every waiter whose deadline is at or before <paramref name="time"/>.</summary>
    protected abstract void ExpireWaitersDueBy(DateTimeOffset time);

    // ---- helpers for derived objects ----

    /// <summary>
    /// Runs a command: expire what is due, renew the caller's lease, run <paramref name="body"/>, expire again (for
    /// zero timeouts), drop leases of sessions that hold nothing, and re-arm the expiry timer.
    /// </summary>
    protected Task<T> Command<T>(Func<Task<T>> body, bool renew = true)
    {
        if (Replicated.Now > State.Clock) State.Clock = Replicated.Now;
        Expire();
        if (renew) Renew(Caller);
        try
        {
            return body();
        }
        finally
        {
            Expire();
            Prune();
            ArmTimer();
        }
    }

    /// <inheritdoc cref="Command{T}"/>
    protected Task Command(Func<Task> body, bool renew = true) => Command(async () => { await body(); return 0; }, renew);

    /// <summary>A session became (or stays) a holder: its lease runs from now.</summary>
    protected void StartLease(Guid session) => State.Leases[session] = State.Clock + State.LeaseDuration;

    /// <summary>Validates a timeout as .NET does: non-negative or <see cref="Timeout.InfiniteTimeSpan"/>; returns the deadline (null: none).</summary>
    protected DateTimeOffset? DeadlineAfter(TimeSpan timeout)
    {
        if (timeout == Timeout.InfiniteTimeSpan) return null;
        if (timeout < TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(timeout), timeout, "The timeout must be non-negative or Timeout.InfiniteTimeSpan.");
        }

        return State.Clock + timeout;
    }

    /// <summary>Answers a waiter's call according to its method's return type.</summary>
    protected void Answer(CallId call, GrantReply reply) =>
        Replicated.Complete(call, reply switch { GrantReply.True => true, GrantReply.False => false, _ => null });

    // ---- ILeasedGrain / ICoordinationMaintenance ----

    public Task<bool> KeepAlive() => Command(() => Task.FromResult(Holds(Caller)));

    public Task SetLeaseDuration(TimeSpan duration)
    {
        if (duration <= TimeSpan.Zero)
        {
            throw new ArgumentOutOfRangeException(nameof(duration), duration, "The lease duration must be positive.");
        }

        return Command(() =>
        {
            State.LeaseDuration = duration;
            return Task.CompletedTask;
        });
    }

    public Task<TimeSpan> GetLeaseDuration() => Task.FromResult(State.LeaseDuration);

    /// <summary>The caller's session id as seen by the grain (the stamp of the chosen call; <see cref="Guid.Empty"/> when unstamped).</summary>
    public Task<Guid> GetSessionId() => Task.FromResult(Replicated.Call.ClientId);

    public Task ExpireWaiters() => Command(() => Task.CompletedTask, renew: false);

    // ---- leases, deadlines and the timer ----

    private void Renew(Guid session)
    {
        if (State.Leases.ContainsKey(session)) StartLease(session);
    }

    /// <summary>Applies expired leases and deadlines in time order, as of the object's clock (<see cref="CoordinationState.Clock"/>).</summary>
    private void Expire()
    {
        var now = State.Clock;
        while (true)
        {
            (Guid Session, DateTimeOffset At)? lease = null;
            foreach (var (session, at) in State.Leases)
            {
                if (at <= now && (lease is null || at < lease.Value.At || (at == lease.Value.At && session.CompareTo(lease.Value.Session) < 0)))
                {
                    lease = (session, at);
                }
            }

            var deadline = NextWaiterDeadline();
            if (deadline > now) deadline = null;
            if (lease is null && deadline is null) return;

            if (lease is { } expired && (deadline is null || expired.At <= deadline))
            {
                State.Leases.Remove(expired.Session);
                OnLeaseExpired(expired.Session);
            }
            else
            {
                ExpireWaitersDueBy(deadline!.Value);
            }
        }
    }

    private void Prune()
    {
        foreach (var session in State.Leases.Keys.Where(s => !Holds(s)).ToList()) State.Leases.Remove(session);
    }

    private DateTimeOffset? NextDue()
    {
        DateTimeOffset? due = NextWaiterDeadline();
        foreach (var at in State.Leases.Values)
        {
            if (due is null || at < due) due = at;
        }

        return due;
    }

    /// <summary>Activation-local (not state): schedules the timer for the next due time; does nothing during replay before activation.</summary>
    [SuppressMessage("OpenReplica.Determinism", "ORD001", Justification = "Activation-local expiry timer: it never changes State and does nothing during replay (_active); expiry itself is a new command (ExpireWaiters) chosen into the log.")]
    private void ArmTimer(bool activating = false)
    {
        if (!_active) return;
        var due = NextDue();
        if (due == _armedFor) return;
        _armedFor = due;
        if (due is null)
        {
            _timer?.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            return;
        }

        // Counted from log time (the command that just ran), which runs at the pace of real time, not from this silo's
        // wall clock: after a wall clock step forward, entry times no longer follow the wall clock (EntryClock), and a
        // delay counted from it would fire at once, again and again, until log time caught up. A new activation's
        // log time is that of the last entry, maybe long ago: then the wall clock says sooner, and is taken.
        var delay = due.Value - State.Clock;
        if (activating && due.Value - Time.GetUtcNow() is var byWallClock && byWallClock < delay) delay = byWallClock;
        if (delay < MinTimerDelay) delay = MinTimerDelay;
        Schedule(delay);
    }

    [SuppressMessage("OpenReplica.Determinism", "ORD004", Justification = "Activation-local expiry timer: it never changes State and does nothing during replay (_active); expiry itself is a new command (ExpireWaiters) chosen into the log.")]
    private void Schedule(TimeSpan delay)
    {
        _timer ??= this.RegisterGrainTimer(OnTimerAsync, new GrainTimerCreationOptions
        {
            DueTime = Timeout.InfiniteTimeSpan,
            Period = Timeout.InfiniteTimeSpan,
            Interleave = true,
            KeepAlive = true,
        });
        _timer.Change(delay, Timeout.InfiniteTimeSpan);
    }

    [SuppressMessage("OpenReplica.Determinism", "ORD005", Justification = "Activation-local expiry timer: it never changes State and does nothing during replay (_active); expiry itself is a new command (ExpireWaiters) chosen into the log.")]
    private async Task OnTimerAsync(CancellationToken cancellationToken)
    {
        _armedFor = null; // the command re-arms for whatever is still due
        try
        {
            await this.AsReference<ICoordinationMaintenance>().ExpireWaiters();
        }
        catch (Exception exception)
        {
            if (!_active) return;
            Logger.LogWarning(exception, "{Grain}: expiring waiters failed; retrying in {Delay}", GrainContext.GrainId, RetryDelay);
            _armedFor = null;
            Schedule(RetryDelay);
        }
    }

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        _active = true;
        ArmTimer(activating: true); // waiters and leases replayed from the log keep expiring on the new activation
        return base.OnActivateAsync(cancellationToken);
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        _active = false;
        _timer?.Dispose();
        _timer = null;
        return base.OnDeactivateAsync(reason, cancellationToken);
    }
}

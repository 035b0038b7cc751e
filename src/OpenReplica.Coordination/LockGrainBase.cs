using OpenReplica.Orleans;

namespace OpenReplica.Coordination;

/// <summary>A caller queued for a lock: its call (answered on grant), session, deadline, and the hold count it gets.</summary>
[GenerateSerializer]
internal sealed class LockWaiter : ITimedWaiter
{
    [Id(0)] public CallId Call { get; set; }
    [Id(1)] public Guid Session { get; set; }
    [Id(2)] public DateTimeOffset? Deadline { get; set; }
    [Id(3)] public int Count { get; set; } = 1;
    [Id(4)] public GrantReply Reply { get; set; }
}

/// <summary>State of a lock: the owning session, its hold count, and the FIFO queue of waiters.</summary>
[GenerateSerializer]
internal class LockState : CoordinationState
{
    [Id(0)] public Guid? Owner { get; set; }
    [Id(1)] public int Count { get; set; }
    [Id(2)] public List<LockWaiter> Queue { get; set; } = [];
}

/// <summary>
/// The mutual-exclusion core of <see cref="LockGrain"/>, <see cref="ReentrantLockGrain"/> and
/// <see cref="ConditionGrain"/>: one owning session, a FIFO queue of waiters, hand-off on release, timeouts and
/// lease expiry decided from the log.
/// </summary>
internal abstract class LockGrainBase<TState> : CoordinationGrain<TState>
    where TState : LockState, new()
{
    /// <summary>Whether the owning session may acquire again (RLock) instead of queueing behind itself (Lock).</summary>
    protected abstract bool Reentrant { get; }

    protected enum AcquireResult { Granted, Denied, Queued }

    /// <summary>Acquires for the caller, or queues it (deadline from <paramref name="timeout"/>; null: no deadline).</summary>
    protected AcquireResult TryAcquireCore(TimeSpan? timeout, GrantReply reply)
    {
        var deadline = timeout is { } t ? DeadlineAfter(t) : null;
        var session = Caller;
        if (State.Owner is null && State.Queue.Count == 0)
        {
            State.Owner = session;
            State.Count = 1;
            StartLease(session);
            return AcquireResult.Granted;
        }

        if (Reentrant && State.Owner == session)
        {
            State.Count++;
            return AcquireResult.Granted;
        }

        if (timeout == TimeSpan.Zero) return AcquireResult.Denied;
        State.Queue.Add(new LockWaiter { Call = Replicated.Call, Session = session, Deadline = deadline, Reply = reply });
        return AcquireResult.Queued;
    }

    /// <summary>The caller must own the lock; otherwise <see cref="SynchronizationLockException"/>.</summary>
    protected void RequireOwner(string operation)
    {
        var session = Caller;
        if (State.Owner != session)
        {
            string holder = State.Owner is { } owner ? $"session {owner:N}" : "nobody";
            throw new SynchronizationLockException(
                $"{GetType().Name} '{Key}': session {session:N} cannot {operation}: it does not hold the lock (held by {holder}).");
        }
    }

    /// <summary>Releases one hold (or all of them) of the caller; hands the lock to the next waiter at zero. Returns the holds left.</summary>
    protected int ReleaseCore(bool all)
    {
        RequireOwner("release");
        int left = all ? 0 : State.Count - 1;
        State.Count = left;
        if (left == 0) HandOff();
        return left;
    }

    /// <summary>Frees the lock and grants it to the first waiter (and, if reentrant, to that session's other waiters).</summary>
    protected void HandOff()
    {
        State.Owner = null;
        State.Count = 0;
        if (State.Queue.Count == 0) return;

        var next = State.Queue[0];
        State.Queue.RemoveAt(0);
        State.Owner = next.Session;
        State.Count = next.Count;
        StartLease(next.Session);
        Answer(next.Call, next.Reply);
        if (!Reentrant) return;

        foreach (var same in State.Queue.Where(w => w.Session == next.Session).ToList())
        {
            State.Queue.Remove(same);
            State.Count += same.Count;
            Answer(same.Call, same.Reply);
        }
    }

    /// <summary>Queues a waiter that must re-acquire (a notified or timed-out condition waiter); grants at once if free.</summary>
    protected void EnqueueReacquire(LockWaiter waiter)
    {
        State.Queue.Add(waiter);
        if (State.Owner is null) HandOff();
        else if (Reentrant && State.Owner == waiter.Session)
        {
            State.Queue.Remove(waiter);
            State.Count += waiter.Count;
            Answer(waiter.Call, waiter.Reply);
        }
    }

    protected override bool Holds(Guid session) => State.Owner == session;

    protected override void OnLeaseExpired(Guid session)
    {
        if (State.Owner == session) HandOff();
    }

    protected override DateTimeOffset? NextWaiterDeadline() => EarliestDeadline(State.Queue);

    protected override void ExpireWaitersDueBy(DateTimeOffset time) => ExpireQueued(State.Queue, time);

    protected Task<bool> IsLockedCore() => Task.FromResult(State.Owner is not null);

    protected Task<Guid?> OwnerCore() => Task.FromResult(State.Owner);

    protected Task<int> QueueLengthCore() => Task.FromResult(State.Queue.Count);
}

using OpenReplica.Orleans;
using Orleans.Concurrency;

namespace OpenReplica.Coordination;

/// <summary>
/// A condition variable with its own reentrant lock on the same grain (Python's <c>threading.Condition()</c>, whose
/// default lock is an RLock; ConCoord's Condition). Acquire/Release work as <see cref="IReentrantLockGrain"/>.
/// <see cref="Wait"/> and <see cref="Notify"/> require the caller's session to hold the lock
/// (<see cref="SynchronizationLockException"/> otherwise). Wait releases every hold of the session, waits to be
/// notified, and re-acquires the same hold count before it returns.
/// </summary>
public interface IConditionGrain : IReentrantLocking
{
    /// <summary>Releases the lock, waits for a notification, re-acquires. </summary>
    Task Wait();

    /// <summary>As <see cref="Wait"/>, but stops waiting for a notification after <paramref name="timeout"/> (log time); returns false then. The lock is re-acquired either way.</summary>
    Task<bool> TryWait(TimeSpan timeout);

    /// <summary>Wakes up to <paramref name="count"/> waiters (FIFO); they re-acquire after the caller releases. Returns how many were woken.</summary>
    Task<int> Notify(int count = 1);

    /// <summary>Wakes every waiter; returns how many.</summary>
    Task<int> NotifyAll();
}

/// <summary>A caller in Wait: its call, session, saved hold count, and deadline (TryWait).</summary>
[GenerateSerializer]
internal sealed class ConditionWaiter
{
    [Id(0)] public CallId Call { get; set; }
    [Id(1)] public Guid Session { get; set; }
    [Id(2)] public int Count { get; set; }
    [Id(3)] public DateTimeOffset? Deadline { get; set; }
    [Id(4)] public bool Timed { get; set; }
}

[GenerateSerializer]
internal sealed class ConditionGrainState : LockState
{
    [Id(0)] public List<ConditionWaiter> Waiting { get; set; } = [];
}

internal sealed class ConditionGrain : ReentrantLockGrainBase<ConditionGrainState>, IConditionGrain
{
    public Task Wait() => Command(() =>
    {
        StartWait(null);
        return Replicated.Defer();
    });

    public Task<bool> TryWait(TimeSpan timeout) => Command(() =>
    {
        StartWait(DeadlineAfter(timeout), timed: true);
        return Replicated.Defer<bool>();
    });

    public Task<int> Notify(int count = 1)
    {
        if (count < 0) throw new ArgumentOutOfRangeException(nameof(count), count, "The number of waiters to notify must be non-negative.");
        return Command(() => Task.FromResult(NotifyCore(count)));
    }

    public Task<int> NotifyAll() => Command(() => Task.FromResult(NotifyCore(int.MaxValue)));

    public override Task<int> WaitingCount() => Task.FromResult(State.Waiting.Count);

    private void StartWait(DateTimeOffset? deadline, bool timed = false)
    {
        RequireOwner("wait");
        State.Waiting.Add(new ConditionWaiter { Call = Replicated.Call, Session = Caller, Count = State.Count, Deadline = deadline, Timed = timed });
        HandOff(); // releases every hold of the session
    }

    private int NotifyCore(int count)
    {
        RequireOwner("notify");
        int woken = Math.Min(count, State.Waiting.Count);
        var wake = State.Waiting.GetRange(0, woken);
        State.Waiting.RemoveRange(0, woken);
        foreach (var w in wake) Reacquire(w, notified: true);
        return woken;
    }

    private void Reacquire(ConditionWaiter w, bool notified) =>
        EnqueueReacquire(new LockWaiter
        {
            Call = w.Call,
            Session = w.Session,
            Count = w.Count,
            Reply = !w.Timed ? GrantReply.None : notified ? GrantReply.True : GrantReply.False,
        });

    protected override DateTimeOffset? NextWaiterDeadline()
    {
        var next = base.NextWaiterDeadline();
        foreach (var w in State.Waiting)
        {
            if (w.Deadline is { } d && (next is null || d < next)) next = d;
        }

        return next;
    }

    protected override void ExpireWaitersDueBy(DateTimeOffset time)
    {
        base.ExpireWaitersDueBy(time);
        foreach (var w in State.Waiting.Where(w => w.Deadline <= time).ToList())
        {
            State.Waiting.Remove(w);
            Reacquire(w, notified: false);
        }
    }
}

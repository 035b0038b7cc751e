using Orleans.Concurrency;

namespace OpenReplica.Coordination;

/// <summary>
/// A mutual-exclusion lock (ConCoord's Lock, Python's <c>threading.Lock</c>). The owner is the caller's session.
/// Waiters are served in FIFO order. Acquiring again from the owning session queues behind itself (use
/// <see cref="IReentrantLockGrain"/> for recursion); only the owning session may release.
/// </summary>
public interface ILockGrain : ILeasedGrain
{
    /// <summary>Blocks until the caller's session holds the lock.</summary>
    Task Acquire();

    /// <summary>Acquires within <paramref name="timeout"/> (log time) or returns false. Zero: try once; <see cref="Timeout.InfiniteTimeSpan"/>: no limit.</summary>
    Task<bool> TryAcquire(TimeSpan timeout);

    /// <summary>Releases the lock and hands it to the first waiter. <see cref="SynchronizationLockException"/> if the caller does not hold it.</summary>
    Task Release();

    /// <summary>Whether any session holds the lock now.</summary>
    [ReadOnly] Task<bool> IsLocked();

    /// <summary>The owning session, or null.</summary>
    [ReadOnly] Task<Guid?> Owner();

    /// <summary>How many callers are queued.</summary>
    [ReadOnly] Task<int> WaitingCount();
}

/// <summary>
/// A reentrant lock (ConCoord's RLock, Python's <c>threading.RLock</c>): the owning session may acquire again; each
/// acquisition needs one release, and the lock passes to the next waiter when the count reaches zero.
/// </summary>
public interface IReentrantLockGrain : IReentrantLocking;

/// <summary>
/// The members of a reentrant lock, shared by <see cref="IReentrantLockGrain"/> and <see cref="IConditionGrain"/>
/// (whose lock is reentrant). Ask for one of those two: this interface has two grain classes.
/// </summary>
public interface IReentrantLocking : ILeasedGrain
{
    /// <summary>Acquires the lock (again, if the caller's session already holds it: one more hold), waiting as long as it takes.</summary>
    Task Acquire();

    /// <summary>Acquires within <paramref name="timeout"/> (log time) or returns false. Zero: try once; <see cref="Timeout.InfiniteTimeSpan"/>: no limit.</summary>
    Task<bool> TryAcquire(TimeSpan timeout);

    /// <summary>Releases one hold; returns the holds the session still has (0: released). <see cref="SynchronizationLockException"/> if not held.</summary>
    Task<int> Release();

    /// <summary>Whether any session holds the lock now.</summary>
    [ReadOnly] Task<bool> IsLocked();

    /// <summary>The session that holds the lock, or null.</summary>
    [ReadOnly] Task<Guid?> Owner();

    /// <summary>The owner's hold count (0 when free).</summary>
    [ReadOnly] Task<int> HoldCount();

    /// <summary>Callers waiting to acquire (for a condition: in Wait/TryWait, not yet notified).</summary>
    [ReadOnly] Task<int> WaitingCount();
}

[GenerateSerializer]
internal sealed class LockGrainState : LockState;

internal sealed class LockGrain : LockGrainBase<LockGrainState>, ILockGrain
{
    protected override bool Reentrant => false;

    public Task Acquire() => Command(() => TryAcquireCore(null, GrantReply.None) == AcquireResult.Queued ? Replicated.Defer() : Task.CompletedTask);

    public Task<bool> TryAcquire(TimeSpan timeout) => Command(() => TryAcquireCore(timeout, GrantReply.True) switch
    {
        AcquireResult.Granted => Task.FromResult(true),
        AcquireResult.Denied => Task.FromResult(false),
        _ => Replicated.Defer<bool>(),
    });

    public Task Release() => Command(() =>
    {
        ReleaseCore(all: true);
        return Task.CompletedTask;
    });

    public Task<bool> IsLocked() => IsLockedCore();

    public Task<Guid?> Owner() => OwnerCore();

    public Task<int> WaitingCount() => QueueLengthCore();
}

[GenerateSerializer]
internal sealed class ReentrantLockGrainState : LockState;

internal sealed class ReentrantLockGrain : ReentrantLockGrainBase<ReentrantLockGrainState>, IReentrantLockGrain
{
    public override Task<int> WaitingCount() => QueueLengthCore();
}

/// <summary>The reentrant lock's commands and queries, shared by <see cref="ReentrantLockGrain"/> and <see cref="ConditionGrain"/>.</summary>
internal abstract class ReentrantLockGrainBase<TState> : LockGrainBase<TState>
    where TState : LockState, new()
{
    protected override bool Reentrant => true;

    public Task Acquire() => Command(() => TryAcquireCore(null, GrantReply.None) == AcquireResult.Queued ? Replicated.Defer() : Task.CompletedTask);

    public Task<bool> TryAcquire(TimeSpan timeout) => Command(() => TryAcquireCore(timeout, GrantReply.True) switch
    {
        AcquireResult.Granted => Task.FromResult(true),
        AcquireResult.Denied => Task.FromResult(false),
        _ => Replicated.Defer<bool>(),
    });

    public Task<int> Release() => Command(() => Task.FromResult(ReleaseCore(all: false)));

    public Task<bool> IsLocked() => IsLockedCore();

    public Task<Guid?> Owner() => OwnerCore();

    public Task<int> HoldCount() => Task.FromResult(State.Count);

    public abstract Task<int> WaitingCount();
}

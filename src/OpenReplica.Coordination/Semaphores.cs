using OpenReplica.Orleans;
using Orleans.Concurrency;

namespace OpenReplica.Coordination;

/// <summary>Operations of <see cref="ISemaphoreGrain"/> and <see cref="IBoundedSemaphoreGrain"/>.</summary>
public interface ISemaphore : ILeasedGrain
{
    /// <summary>
    /// Sets the initial count (default 1 if the semaphore is used first). Idempotent for the same value;
    /// <see cref="InvalidOperationException"/> for a different one; <see cref="ArgumentOutOfRangeException"/> if negative.
    /// </summary>
    Task Initialize(int initialCount);

    /// <summary>Blocks until a permit is granted to the caller's session (FIFO).</summary>
    Task Acquire();

    /// <summary>Takes a permit within <paramref name="timeout"/> (log time) or returns false.</summary>
    Task<bool> TryAcquire(TimeSpan timeout);

    /// <summary>
    /// Returns <paramref name="releaseCount"/> permits (the caller's own first; the rest add permits, as .NET's
    /// SemaphoreSlim allows) and wakes waiters. Returns the count before the release.
    /// <see cref="ArgumentOutOfRangeException"/> if below 1.
    /// </summary>
    Task<int> Release(int releaseCount = 1);

    /// <summary>Permits available now.</summary>
    [ReadOnly] Task<int> CurrentCount();

    /// <summary>Callers waiting for a permit now.</summary>
    [ReadOnly] Task<int> WaitingCount();
}

/// <summary>A counting semaphore (ConCoord's Semaphore, .NET's SemaphoreSlim without a maximum).</summary>
public interface ISemaphoreGrain : ISemaphore;

/// <summary>
/// A bounded semaphore (ConCoord's and Python's BoundedSemaphore): a release that would raise the permits (available
/// plus held) above the initial count throws <see cref="SemaphoreFullException"/>.
/// </summary>
public interface IBoundedSemaphoreGrain : ISemaphore;

[GenerateSerializer]
internal sealed class SemaphoreWaiter : ITimedWaiter
{
    [Id(0)] public CallId Call { get; set; }
    [Id(1)] public Guid Session { get; set; }
    [Id(2)] public DateTimeOffset? Deadline { get; set; }
    [Id(3)] public GrantReply Reply { get; set; }
}

[GenerateSerializer]
internal sealed class SemaphoreState : CoordinationState
{
    [Id(0)] public int? Initial { get; set; }
    [Id(1)] public int Count { get; set; }
    /// <summary>Permits held per session (leased).</summary>
    [Id(2)] public Dictionary<Guid, int> Held { get; set; } = [];
    [Id(3)] public List<SemaphoreWaiter> Queue { get; set; } = [];
}

internal abstract class SemaphoreGrainBase : CoordinationGrain<SemaphoreState>, ISemaphore
{
    protected abstract bool Bounded { get; }

    public Task Initialize(int initialCount)
    {
        if (initialCount < 0) throw new ArgumentOutOfRangeException(nameof(initialCount), initialCount, "The initial count must be non-negative.");
        return Command(() =>
        {
            if (State.Initial is { } initial && initial != initialCount)
            {
                throw new InvalidOperationException($"{GetType().Name} '{Key}' already has initial count {initial}; it cannot become {initialCount}.");
            }

            EnsureInitialized(initialCount);
            return Task.CompletedTask;
        });
    }

    public Task Acquire() => Command(() => TryAcquireCore(null, GrantReply.None) is null ? Replicated.Defer() : Task.CompletedTask);

    public Task<bool> TryAcquire(TimeSpan timeout) => Command(() => TryAcquireCore(timeout, GrantReply.True) is { } granted
        ? Task.FromResult(granted)
        : Replicated.Defer<bool>());

    public Task<int> Release(int releaseCount = 1)
    {
        if (releaseCount < 1) throw new ArgumentOutOfRangeException(nameof(releaseCount), releaseCount, "The release count must be at least 1.");
        return Command(() =>
        {
            EnsureInitialized(1);
            var session = Caller;
            int own = Math.Min(releaseCount, State.Held.GetValueOrDefault(session));
            long total = (long)State.Count + State.Held.Values.Sum() + releaseCount - own;
            if ((Bounded && total > State.Initial!.Value) || (long)State.Count + releaseCount > int.MaxValue)
            {
                throw new SemaphoreFullException(
                    $"{GetType().Name} '{Key}': releasing {releaseCount} permit(s) (the caller holds {own}) would exceed the {(Bounded ? $"initial count {State.Initial}" : "maximum count")}.");
            }

            int previous = State.Count;
            Take(session, own);
            State.Count += releaseCount;
            Wake();
            return Task.FromResult(previous);
        });
    }

    public Task<int> CurrentCount() => Task.FromResult(State.Initial is null ? 1 : State.Count);

    public Task<int> WaitingCount() => Task.FromResult(State.Queue.Count);

    /// <summary>Granted: true; denied (zero timeout): false; queued: null.</summary>
    private bool? TryAcquireCore(TimeSpan? timeout, GrantReply reply)
    {
        var deadline = timeout is { } t ? DeadlineAfter(t) : null;
        EnsureInitialized(1);
        var session = Caller;
        if (State.Count > 0 && State.Queue.Count == 0)
        {
            State.Count--;
            Give(session);
            return true;
        }

        if (timeout == TimeSpan.Zero) return false;
        State.Queue.Add(new SemaphoreWaiter { Call = Replicated.Call, Session = session, Deadline = deadline, Reply = reply });
        return null;
    }

    private void EnsureInitialized(int initialCount)
    {
        if (State.Initial is not null) return;
        State.Initial = initialCount;
        State.Count = initialCount;
    }

    private void Give(Guid session)
    {
        State.Held[session] = State.Held.GetValueOrDefault(session) + 1;
        StartLease(session);
    }

    private void Take(Guid session, int permits)
    {
        if (permits == 0) return;
        int left = State.Held[session] - permits;
        if (left == 0) State.Held.Remove(session);
        else State.Held[session] = left;
    }

    private void Wake()
    {
        while (State.Count > 0 && State.Queue.Count > 0)
        {
            var next = State.Queue[0];
            State.Queue.RemoveAt(0);
            State.Count--;
            Give(next.Session);
            Answer(next.Call, next.Reply);
        }
    }

    protected override bool Holds(Guid session) => State.Held.ContainsKey(session);

    protected override void OnLeaseExpired(Guid session)
    {
        if (!State.Held.Remove(session, out int permits)) return;
        State.Count += permits;
        Wake();
    }

    protected override DateTimeOffset? NextWaiterDeadline() => EarliestDeadline(State.Queue);

    protected override void ExpireWaitersDueBy(DateTimeOffset time) => ExpireQueued(State.Queue, time);
}

internal sealed class SemaphoreGrain : SemaphoreGrainBase, ISemaphoreGrain
{
    protected override bool Bounded => false;
}

internal sealed class BoundedSemaphoreGrain : SemaphoreGrainBase, IBoundedSemaphoreGrain
{
    protected override bool Bounded => true;
}

namespace OpenReplica.Simulation.Engine;

/// <summary>
/// Simulated time and the one thread a whole engine run happens on. Every event runs inside a
/// <see cref="SimContext"/> (the world's, or one silo incarnation's), so every <c>await</c> in the engine, the WAL
/// and the grain sessions captures that context and its continuation comes back here as an event, in a fixed order.
/// Nothing reaches the thread pool, and the same seed gives the same run, event for event.
/// </summary>
internal sealed class SimScheduler
{
    // Bounds a run that keeps scheduling zero-delay work forever (a livelock is a failure, not a hang).
    public const long MaxEvents = 20_000_000;

    private readonly PriorityQueue<(Action Action, SimContext Context), (long Time, long Order)> _events = new();
    private long _order;
    private int _thread;

    public SimScheduler() => World = new SimContext(this, "world");

    public long Now { get; private set; }

    public long EventsRun { get; private set; }

    /// <summary>The context of clients, faults and the directory (never dies).</summary>
    public SimContext World { get; }

    /// <summary>Set when something scheduled work from another thread (a continuation escaped to the thread pool).</summary>
    public string? Escaped { get; private set; }

    public void At(long delay, Action action, SimContext? context = null)
    {
        if (_thread != 0 && Environment.CurrentManagedThreadId != _thread)
        {
            // Determinism is gone if anything runs off the simulation's thread; say where it came from.
            Escaped ??= "work was scheduled from another thread:\n" + Environment.StackTrace;
            return;
        }
        _events.Enqueue((action, context ?? World), (Now + Math.Max(0, delay), _order++));
    }

    /// <summary>A task that completes <paramref name="delay"/> from now, on the world's context.</summary>
    public Task Delay(long delay)
    {
        var done = new TaskCompletionSource();
        At(delay, () => done.TrySetResult());
        return done.Task;
    }

    /// <summary>Runs events up to <paramref name="time"/>; events of a dead context (a crashed silo) are dropped.</summary>
    public void RunUntil(long time)
    {
        var previous = SynchronizationContext.Current;
        _thread = Environment.CurrentManagedThreadId;
        try
        {
            while (_events.TryPeek(out _, out var at) && at.Time <= time)
            {
                var (action, context) = _events.Dequeue();
                Now = at.Time;
                if (Escaped is not null) throw new SimulationFailure("determinism", Escaped);
                if (context.Dead) continue;
                if (++EventsRun > MaxEvents) throw new SimulationFailure("liveness", $"more than {MaxEvents} events: the run livelocked");
                SynchronizationContext.SetSynchronizationContext(context);
                action();
            }
            Now = Math.Max(Now, time);
        }
        finally
        {
            SynchronizationContext.SetSynchronizationContext(previous);
        }
    }
}

/// <summary>
/// One process's context: the world, or one incarnation of a silo. A crash marks it dead, and every continuation
/// and timer of that incarnation is dropped with it, as a killed process loses its threads.
/// </summary>
internal sealed class SimContext(SimScheduler scheduler, string name) : SynchronizationContext
{
    public string Name { get; } = name;

    public bool Dead { get; set; }

    public override void Post(SendOrPostCallback d, object? state) => scheduler.At(0, () => d(state), this);

    public override void Send(SendOrPostCallback d, object? state) =>
        throw new NotSupportedException("the simulation runs on one thread; nothing may block on another context");

    public override SynchronizationContext CreateCopy() => this;

    public override string ToString() => Name;
}

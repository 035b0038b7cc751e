using System.Collections.Concurrent;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// Test stand-in <see cref="ICallReplicator"/> without consensus (the plumbing tests observe the grain filter, stamps
/// and retries through it; production silos always use the consensus replicator): each grain's "log" is an in-memory list on this silo;
/// a command is appended (that is its "choice") and applied at once, in slot order. It keeps a session table per
/// grain, so a retried stamp gets the recorded reply instead of running again, and replays the list when the
/// grain is activated again on this silo. Everything is lost with the silo.
/// </summary>
internal sealed class LocalCallReplicator(TimeProvider time) : ICallReplicator
{
    private readonly ConcurrentDictionary<GrainId, GrainLog> _logs = new();
    private TaskCompletionSource _gate = CompletedGate();
    private long _replicateCalls;
    private int _waitingAtGate;

    /// <summary>How many calls reached <see cref="ReplicateAsync"/> (read-only calls never do).</summary>
    public long ReplicateCalls => Interlocked.Read(ref _replicateCalls);

    /// <summary>Commands appended but held by <see cref="Pause"/>.</summary>
    public int WaitingAtGate => Volatile.Read(ref _waitingAtGate);

    /// <summary>Holds appended commands before they are applied until <see cref="Resume"/> (to observe pipelining).</summary>
    public void Pause()
    {
        lock (_logs)
        {
            if (_gate.Task.IsCompleted)
            {
                _gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            }
        }
    }

    public void Resume()
    {
        lock (_logs)
        {
            _gate.TrySetResult();
        }
    }

    /// <summary>A copy of the grain's log.</summary>
    public IReadOnlyList<LogEntry> GetLog(GrainId grainId)
    {
        if (!_logs.TryGetValue(grainId, out var log))
        {
            return [];
        }

        lock (log)
        {
            return [.. log.Entries];
        }
    }

    /// <summary>Every stamp that reached the replicator for the grain, retries included, in arrival order.</summary>
    public IReadOnlyList<CallStamp> GetReceivedStamps(GrainId grainId)
    {
        if (!_logs.TryGetValue(grainId, out var log))
        {
            return [];
        }

        lock (log)
        {
            return [.. log.Received];
        }
    }

    public async Task RecoverAsync(IGrainContext grain, CancellationToken cancellationToken)
    {
        var machine = StateMachineOf(grain);
        foreach (var entry in GetLog(grain.GrainId))
        {
            cancellationToken.ThrowIfCancellationRequested();
            await machine.ApplyReplayedAsync(entry.Invokable, entry.Position);
        }
    }

    public bool CanReadLocally(IGrainContext grain) => true;

    public Task ReadBarrierAsync(IGrainContext grain, CancellationToken cancellationToken) => Task.CompletedTask;

    public Task DetachAsync(IGrainContext grain) => Task.CompletedTask;

    public async Task<object?> ReplicateAsync(IGrainContext grain, byte[] invokable, CallStamp stamp, CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref _replicateCalls);
        var machine = StateMachineOf(grain);
        var log = _logs.GetOrAdd(grain.GrainId, static _ => new GrainLog());
        Task<CommandOutcome> outcome;
        lock (log)
        {
            log.Received.Add(stamp);
            if (!stamp.IsNone && log.TryGetReply(stamp, out var recorded))
            {
                outcome = recorded;
            }
            else
            {
                var entry = new LogEntry(new CommandPosition(log.Entries.Count + 1, time.GetUtcNow()), invokable, stamp);
                log.Entries.Add(entry);
                outcome = ApplyInOrderAsync(log.Tail, machine, entry);
                log.Tail = outcome;
                if (!stamp.IsNone)
                {
                    log.RecordReply(stamp, outcome);
                }
            }
        }

        return (await outcome).GetResultOrThrow();
    }

    private async Task<CommandOutcome> ApplyInOrderAsync(Task previous, IReplicatedStateMachine machine, LogEntry entry)
    {
        // Leave the caller's lock before running grain code; the continuation stays on the activation's scheduler.
        await Task.Yield();
        await previous; // never faults: outcomes carry exceptions
        Task gate;
        lock (_logs)
        {
            gate = _gate.Task;
        }

        if (!gate.IsCompleted)
        {
            Interlocked.Increment(ref _waitingAtGate);
            try
            {
                await gate;
            }
            finally
            {
                Interlocked.Decrement(ref _waitingAtGate);
            }
        }

        return await machine.ApplyAsync(entry.Invokable, entry.Position);
    }

    private static IReplicatedStateMachine StateMachineOf(IGrainContext grain) =>
        grain.GrainInstance as IReplicatedStateMachine
        ?? throw new InvalidOperationException($"Grain {grain.GrainId} ({grain.GrainInstance?.GetType()}) is not a ReplicatedGrain<TState>.");

    private static TaskCompletionSource CompletedGate()
    {
        var gate = new TaskCompletionSource();
        gate.SetResult();
        return gate;
    }

    /// <summary>One command of a grain's log.</summary>
    internal sealed record LogEntry(CommandPosition Position, byte[] Invokable, CallStamp Stamp);

    private sealed class GrainLog
    {
        private readonly Dictionary<Guid, SortedDictionary<long, Task<CommandOutcome>>> _sessions = [];

        public List<LogEntry> Entries { get; } = [];

        public List<CallStamp> Received { get; } = [];

        public Task Tail { get; set; } = Task.CompletedTask;

        public bool TryGetReply(CallStamp stamp, out Task<CommandOutcome> reply)
        {
            reply = null!;
            return _sessions.TryGetValue(stamp.ClientId, out var session) && session.TryGetValue(stamp.Sequence, out reply!);
        }

        /// <summary>Records the reply and forgets those the client has acknowledged (below its first unacknowledged).</summary>
        public void RecordReply(CallStamp stamp, Task<CommandOutcome> reply)
        {
            if (!_sessions.TryGetValue(stamp.ClientId, out var session))
            {
                _sessions[stamp.ClientId] = session = [];
            }

            session[stamp.Sequence] = reply;
            while (session.Count > 0 && session.Keys.First() < stamp.FirstUnacknowledged)
            {
                session.Remove(session.Keys.First());
            }
        }
    }
}

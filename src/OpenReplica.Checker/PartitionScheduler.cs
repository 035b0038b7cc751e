using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace OpenReplica.Checker;

/// <summary>A partition's search as the scheduler sees it.</summary>
internal interface IResumableSearch
{
    long Steps { get; }

    int[]? Linearization { get; }

    int[]? Deepest { get; }

    SearchOutcome Advance(long maxSteps, Deadline deadline);
}

/// <summary>
/// Searches partitions fairly: worker threads (one per core by default) take partitions round-robin from a queue and
/// search each for a slice of steps that doubles every time the partition comes round again (capped), so a hard
/// partition cannot starve the others and an easy one finishes within a few of its own slices. The first partition
/// found not linearizable stops every worker.
/// </summary>
internal sealed class PartitionScheduler(int partitionCount, Func<int, IResumableSearch> create, int parallelism, long? maxStepsPerPartition = null)
{
    /// <summary>Steps of a partition's first slice (well under a millisecond).</summary>
    internal const long FirstSliceSteps = 1 << 12;

    /// <summary>How long the calling thread searches alone before helper threads start.</summary>
    internal const int HelpersAfterMs = 2;

    /// <summary>Largest slice (tens of milliseconds): bounds how long a hard partition holds a worker while others wait.</summary>
    internal const long MaxSliceSteps = 1 << 19;

    private readonly object _gate = new();
    private readonly Queue<(int Partition, long Slice)> _queue = new();
    private readonly IResumableSearch?[] _searches = new IResumableSearch?[partitionCount];
    private readonly SearchOutcome?[] _outcomes = new SearchOutcome?[partitionCount];
    private readonly int[]?[] _linearizations = new int[]?[partitionCount];
    private int _running;
    private int? _violating;
    private ExceptionDispatchInfo? _failure;
    private long _steps;
    private int _outOfSteps;

    /// <summary>Per partition: its verdict, or null when it was not decided (time ran out, or another partition failed first).</summary>
    public IReadOnlyList<SearchOutcome?> Outcomes => _outcomes;

    /// <summary>The partition found not linearizable, if any.</summary>
    public int? Violating => _violating;

    /// <summary>Partitions left undecided because they used up their steps (<see cref="CheckOptions.MaxStepsPerPartition"/>).</summary>
    public int OutOfSteps => _outOfSteps;

    /// <summary>Search steps over all partitions.</summary>
    public long Steps => Interlocked.Read(ref _steps);

    /// <summary>Per partition found linearizable: the order its search linearized the operations in (indices into the partition).</summary>
    public IReadOnlyList<int[]?> Linearizations => _linearizations;

    /// <summary>For a partition left undecided: the longest partial linearization its search reached, if it recorded one.</summary>
    public int[]? DeepestOf(int partition) => _outcomes[partition] is null ? _searches[partition]?.Deepest : null;

    /// <summary>Runs until every partition is decided, one is not linearizable, or the deadline passes / the token is cancelled.</summary>
    public void Run(Deadline deadline, CancellationToken cancellation)
    {
        for (var p = 0; p < partitionCount; p++)
        {
            _queue.Enqueue((p, FirstSliceSteps));
        }

        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellation);
        var local = deadline.WithCancellation(stop.Token);
        var helpers = Math.Clamp(parallelism, 1, Math.Max(1, partitionCount)) - 1;
        var threads = new List<Thread>(helpers);

        // The calling thread starts alone; helper threads join only if the work is still going after a moment, so
        // small histories do not pay for starting threads.
        var started = Stopwatch.StartNew();
        Work(local, stop, () =>
        {
            if (threads.Count < helpers && started.ElapsedMilliseconds >= HelpersAfterMs)
            {
                while (threads.Count < helpers)
                {
                    var thread = new Thread(() => Work(local, stop, null)) { IsBackground = true, Name = "openreplica-checker" };
                    threads.Add(thread);
                    thread.Start();
                }
            }
        });
        foreach (var t in threads)
        {
            t.Join();
        }

        _failure?.Throw();
    }

    private void Work(Deadline deadline, CancellationTokenSource stop, Action? afterSlice)
    {
        while (Take(deadline) is var (partition, slice))
        {
            IResumableSearch search;
            SearchOutcome outcome;
            try
            {
                search = _searches[partition] ??= create(partition);
                var before = search.Steps;
                // A slice never takes a partition past its step limit, so where it stops does not depend on the
                // slices' sizes (which depend on timing); the search itself is deterministic.
                outcome = search.Advance(maxStepsPerPartition is { } max ? Math.Min(slice, Math.Max(1, max - before)) : slice, deadline);
                Interlocked.Add(ref _steps, search.Steps - before);
            }
            catch (Exception e)
            {
                // A model that throws (say, an operation it does not support): stop everyone and rethrow on the
                // calling thread, where an exception from a helper thread would otherwise end the process.
                lock (_gate)
                {
                    _running--;
                    _failure ??= ExceptionDispatchInfo.Capture(e);
                    stop.Cancel();
                    Monitor.PulseAll(_gate);
                }

                return;
            }

            lock (_gate)
            {
                _running--;
                switch (outcome)
                {
                    case SearchOutcome.Paused when search.Steps >= maxStepsPerPartition:
                        _outOfSteps++; // undecided for good: its outcome stays null
                        break;
                    case SearchOutcome.Paused:
                        _queue.Enqueue((partition, Math.Min(slice * 2, MaxSliceSteps)));
                        break;
                    case SearchOutcome.NotLinearizable:
                        _outcomes[partition] = outcome;
                        _violating ??= partition;
                        stop.Cancel(); // the other workers stop at their next deadline check
                        break;
                    case SearchOutcome.Linearizable:
                        _outcomes[partition] = outcome;
                        _linearizations[partition] = search.Linearization;
                        _searches[partition] = null; // its state cache can go
                        break;
                    default: // OutOfTime: every other search is about to say the same
                        break;
                }

                Monitor.PulseAll(_gate);
            }

            afterSlice?.Invoke();
        }
    }

    /// <summary>The next partition to search, or null when there is nothing left to do.</summary>
    private (int Partition, long Slice)? Take(Deadline deadline)
    {
        lock (_gate)
        {
            while (true)
            {
                if (_violating is not null || _failure is not null || deadline.Expired)
                {
                    return null;
                }

                if (_queue.TryDequeue(out var next))
                {
                    _running++;
                    return next;
                }

                if (_running == 0)
                {
                    return null;
                }

                // Another worker's partition may come back paused: wait for it.
                Monitor.Wait(_gate);
            }
        }
    }
}

using System.Collections.Concurrent;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// A few dedicated threads that build group replicas from the WAL for callers that must not wait for the disk: the
/// replica host's turn (peers' batches, status asks, birth claims; <see cref="ColdDeliveries"/>) and the thread pool,
/// which Orleans runs on. A load blocks on file reads and on the log's lock; thousands of them queued on the thread pool
/// in a rolling restart starved it (session 29). Work beyond the threads waits in order; background work (the
/// rebalancer's passes, which visit every group the silo holds) waits behind everything a caller or a peer waits for.
/// </summary>
internal sealed class GroupLoaders : IDisposable
{
    private readonly ConcurrentQueue<Action> _urgent = new();
    private readonly ConcurrentQueue<Action> _background = new();
    private readonly SemaphoreSlim _queued = new(0);
    private readonly Thread[] _threads;
    private readonly Action<Exception> _failed;
    private volatile bool _stopped;

    public GroupLoaders(int threads, Action<Exception> failed)
    {
        _failed = failed;
        _threads = new Thread[threads];
        for (int i = 0; i < threads; i++)
        {
            _threads[i] = new Thread(Run) { IsBackground = true, Name = $"OpenReplica group loader {i}" };
            _threads[i].Start();
        }
    }

    /// <summary>Work queued and not started yet (diagnostics).</summary>
    public int Queued => _urgent.Count + _background.Count;

    /// <summary>Runs <paramref name="work"/> on a loader thread, after the work of its kind queued before it.</summary>
    public void Schedule(Action work) => Enqueue(work, background: false);

    /// <summary>
    /// Runs <paramref name="load"/> on a loader thread and returns its result. Cancelled by
    /// <paramref name="cancellationToken"/> while it waits (a bounded caller does not wait for the queue before it).
    /// </summary>
    public Task<T> RunAsync<T>(Func<T> load, bool background = false, CancellationToken cancellationToken = default)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        Enqueue(() =>
        {
            if (cancellationToken.IsCancellationRequested)
            {
                done.TrySetCanceled(cancellationToken);
                return;
            }
            try
            {
                done.SetResult(load());
            }
            catch (Exception e)
            {
                done.SetException(e);
            }
        }, background);
        return cancellationToken.CanBeCanceled ? done.Task.WaitAsync(cancellationToken) : done.Task;
    }

    private void Enqueue(Action work, bool background)
    {
        if (_stopped)
        {
            work(); // the silo is stopping: run it here rather than lose it
            return;
        }
        (background ? _background : _urgent).Enqueue(work);
        _queued.Release();
        if (_stopped) RunLeftovers(); // stopped meanwhile: the threads may have ended before they saw it
    }

    private void RunLeftovers()
    {
        while (_urgent.TryDequeue(out var work) || _background.TryDequeue(out work)) work();
    }

    private void Run()
    {
        while (true)
        {
            _queued.Wait();
            if (!_urgent.TryDequeue(out var work) && !_background.TryDequeue(out work))
            {
                if (_stopped) return;
                continue;
            }
            try
            {
                work();
            }
            catch (Exception e)
            {
                _failed(e);
            }
        }
    }

    /// <summary>Stops the threads once the work queued now is done; later work runs on its caller's thread.</summary>
    public void Dispose()
    {
        _stopped = true;
        _queued.Release(_threads.Length);
    }
}

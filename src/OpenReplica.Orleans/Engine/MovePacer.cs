namespace OpenReplica.Orleans.Replication;

/// <summary>
/// How many group steps one rebalance pass runs at once, adapted to what moves cost now. A move mostly waits (two
/// configuration rounds and the new member's catch-up), so more moves at once finish more per second, until the
/// silo that receives them (a joining silo receives every one) is saturated: then each move takes longer, and so do
/// the callers' calls whose groups have a replica there. The pacer takes the fast end of the recent moves (their
/// tenth percentile) as what a move costs on an unloaded receiver and, like a congestion window, adds one step per
/// round of moves while moves take at most <see cref="FastFactor"/> times that, and halves (at most once per round)
/// when one takes more than <see cref="SlowFactor"/> times that. Between <paramref name="floor"/>
/// (<see cref="ReplicatedGrainsOptions.RebalanceConcurrency"/>) and <paramref name="ceiling"/>
/// (<see cref="ReplicatedGrainsOptions.RebalanceConcurrencyMax"/>); with both equal it is a fixed limit.
/// </summary>
internal sealed class MovePacer(int floor, int ceiling)
{
    /// <summary>A move this much slower than the fast end of the recent ones still counts as unloaded: widen.</summary>
    public const double FastFactor = 2.0;

    /// <summary>A move this much slower than the fast end of the recent ones means the receiver is saturated: half as many at once.</summary>
    public const double SlowFactor = 4.0;

    /// <summary>Recent moves the fast end is taken from: this silo's share of a join's moves over a few minutes, so that a saturated receiver is not taken for the new normal after a few seconds.</summary>
    public const int RecentMoves = 256;

    private readonly object _lock = new();
    private readonly Queue<TaskCompletionSource> _waiting = new();
    private readonly double[] _recentMs = new double[RecentMoves];
    private int _recentCount;
    private int _recentNext;
    private int _running;
    private double _limit = floor;
    private int _movesSinceDecrease;

    /// <summary>Steps allowed at once now.</summary>
    public int Limit
    {
        get
        {
            lock (_lock) return (int)_limit;
        }
    }

    /// <summary>Waits for a free step.</summary>
    public Task EnterAsync(CancellationToken cancellationToken)
    {
        cancellationToken.ThrowIfCancellationRequested();
        lock (_lock)
        {
            if (_running < (int)_limit)
            {
                _running++;
                return Task.CompletedTask;
            }
            var slot = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
            // A cancelled waiter is never handed a step (its TrySetResult fails below).
            var registration = cancellationToken.Register(() => slot.TrySetCanceled(cancellationToken));
            _ = slot.Task.ContinueWith(_ => registration.Dispose(), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
            _waiting.Enqueue(slot);
            return slot.Task;
        }
    }

    /// <summary>A step ended: its place goes to the next waiter while the limit allows.</summary>
    public void Exit()
    {
        lock (_lock)
        {
            _running--;
            Admit();
        }
    }

    /// <summary>A move finished and took <paramref name="took"/>: the limit follows what moves cost now.</summary>
    public void MoveTook(TimeSpan took)
    {
        lock (_lock)
        {
            Adapt(took.TotalMilliseconds);
            Admit();
        }
    }

    private void Admit()
    {
        while (_running < (int)_limit && _waiting.TryDequeue(out var next))
        {
            if (next.TrySetResult()) _running++;
        }
    }

    /// <summary>
    /// What a move costs on an unloaded receiver: the tenth percentile of the recent moves (the very fastest is an
    /// outlier on a busy machine, which would hold the width at the floor; a median would follow saturation up).
    /// </summary>
    private double FastMovesMs()
    {
        var recent = _recentMs.AsSpan(0, _recentCount).ToArray();
        Array.Sort(recent);
        return recent[recent.Length / 10];
    }

    private void Adapt(double ms)
    {
        _recentMs[_recentNext] = ms;
        _recentNext = (_recentNext + 1) % RecentMoves;
        _recentCount = Math.Min(_recentCount + 1, RecentMoves);
        double fast = FastMovesMs();
        _movesSinceDecrease++;
        if (ms <= fast * FastFactor)
        {
            _limit = Math.Min(ceiling, _limit + 1.0 / _limit); // about one more per round of moves
        }
        else if (ms > fast * SlowFactor && _movesSinceDecrease >= (int)_limit)
        {
            _limit = Math.Max(floor, _limit / 2);
            _movesSinceDecrease = 0;
        }
    }
}

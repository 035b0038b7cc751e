using System.Collections.Concurrent;
using System.Threading.Channels;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// A leaving silo's groups during its graceful stop: each is stepped (<see cref="Rebalancer.StepAsync"/>) and, while
/// it still names this silo or is led from here, stepped again after a short wait that grows with its steps, until
/// none is left. The moves this silo drives (its activations' groups) have <see cref="MovesWidth"/> workers, the groups
/// other silos move <see cref="Width"/>.
/// <see cref="Count"/> is live: every group's entry is updated at each of its checks.
/// </summary>
/// <remarks>
/// Why not passes (until session 10 the hand-over repeated: count every held group, one pass over all of them): a pass
/// ends only when its slowest step ends (a catch-up or a configuration change waits up to 10 s), so every group that
/// another silo moved away meanwhile, or whose move stopped, was looked at again only after it; and the count logged
/// and reported at the timeout was the one taken before the pass, although many groups had moved since. Here a slow
/// group holds up only itself. The wait between steps bounds what a group driven by another silo costs (each of its
/// steps asks its peers whether the group left this silo).
/// </remarks>
internal sealed class HandOverQueue(Rebalancer rebalancer, int width, Func<string, bool> drivenHere)
{
    private static readonly TimeSpan FirstWait = TimeSpan.FromMilliseconds(250);
    private static readonly TimeSpan MaxWait = TimeSpan.FromSeconds(1);

    private readonly ConcurrentDictionary<string, Left> _left = new();
    // Two lanes: the moves this silo drives (its activations' groups) take seconds each and would
    // hold every worker, while the groups other silos move need only a look (traced: those were dropped here only after
    // the last move of this silo ended, seconds after their moves elsewhere).
    private readonly Channel<string> _moves = Channel.CreateUnbounded<string>();
    private readonly Channel<string> _checks = Channel.CreateUnbounded<string>();
    private readonly TaskCompletionSource _empty = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Groups that other silos move, stepped at once.</summary>
    public int Width { get; } = width;

    /// <summary>
    /// Moves this silo drives at once: twice <see cref="Width"/>. A move mostly waits (the new member's catch-up on its
    /// own silo, two rounds of accepts); until session 10 the decommission's passes ran beside the background passes, two
    /// at <see cref="Width"/> each, and with one lane of <see cref="Width"/> the hand-overs were slower (measured).
    /// </summary>
    public int MovesWidth => 2 * Width;

    /// <summary>Groups that named this silo, or were led from it, at their last check.</summary>
    public int Count => _left.Count;

    /// <summary>The groups counted by <see cref="Count"/>.</summary>
    public IReadOnlyList<string> Remaining => [.. _left.Keys];

    /// <summary>A few groups still here and why (for the log).</summary>
    public string Examples(int count) => string.Join("; ", _left.Take(count).Select(p => $"{p.Key} ({p.Value.Why})"));

    /// <summary>The groups still here now: each is asked again (its replica here only), bounded by <paramref name="cancellationToken"/>; the last known count if that runs out.</summary>
    public async Task<int> RecountAsync(CancellationToken cancellationToken)
    {
        try
        {
            await Parallel.ForEachAsync(_left.Keys, new ParallelOptions { MaxDegreeOfParallelism = Width, CancellationToken = cancellationToken }, async (groupId, _) =>
            {
                if (await rebalancer.StillHereAsync(groupId, cancellationToken) is null) _left.TryRemove(groupId, out Left? _);
            });
        }
        catch (OperationCanceledException)
        {
        }
        return _left.Count;
    }

    /// <summary>Steps <paramref name="groups"/> (in this order first) until none names this silo or is led from it.</summary>
    public async Task RunAsync(IEnumerable<string> groups, CancellationToken cancellationToken)
    {
        foreach (string groupId in groups)
        {
            if (_left.TryAdd(groupId, new Left("not stepped yet", 0, drivenHere(groupId)))) LaneOf(_left[groupId]).Writer.TryWrite(groupId);
        }
        if (_left.IsEmpty) return;
        var workers = Enumerable.Range(0, MovesWidth).Select(_ => WorkAsync(_moves, cancellationToken))
            .Concat(Enumerable.Range(0, Width).Select(_ => WorkAsync(_checks, cancellationToken))).ToList();
        try
        {
            await _empty.Task.WaitAsync(cancellationToken);
        }
        finally
        {
            _moves.Writer.TryComplete();
            _checks.Writer.TryComplete();
            try
            {
                await Task.WhenAll(workers);
            }
            catch (OperationCanceledException)
            {
            }
        }
    }

    private Channel<string> LaneOf(Left left) => left.DrivenHere ? _moves : _checks;

    private async Task WorkAsync(Channel<string> lane, CancellationToken cancellationToken)
    {
        await foreach (string groupId in lane.Reader.ReadAllAsync(cancellationToken))
        {
            string? why;
            try
            {
                await rebalancer.StepAsync(groupId, cancellationToken);
                why = await rebalancer.StillHereAsync(groupId, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                why = $"its step failed ({e.GetType().Name}: {e.Message})"; // stepped again, like a move that stopped
            }
            if (why is null)
            {
                _left.TryRemove(groupId, out _);
                if (_left.IsEmpty) _empty.TrySetResult();
                continue;
            }
            var left = _left.AddOrUpdate(groupId, new Left(why, 1, lane == _moves), (_, l) => l with { Why = why, Steps = l.Steps + 1 });
            _ = AgainAsync(groupId, LaneOf(left), Wait(left.Steps), cancellationToken);
        }
    }

    private static async Task AgainAsync(string groupId, Channel<string> lane, TimeSpan wait, CancellationToken cancellationToken)
    {
        try
        {
            await Task.Delay(wait, cancellationToken);
            lane.Writer.TryWrite(groupId);
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>The wait before a group's next step: 250 ms after its first, doubling, at most 1 s.</summary>
    internal static TimeSpan Wait(int steps) =>
        steps >= 3 ? MaxWait : TimeSpan.FromTicks(Math.Min(MaxWait.Ticks, FirstWait.Ticks << Math.Max(0, steps - 1)));

    /// <summary>Why a group is still here, how often it was stepped, and its lane (whether this silo drives its move).</summary>
    private sealed record Left(string Why, int Steps, bool DrivenHere);
}

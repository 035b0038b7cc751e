using System.Diagnostics;

namespace OpenReplica.Checker;

internal enum SearchOutcome
{
    Linearizable,
    NotLinearizable,

    /// <summary>The deadline passed or the search was cancelled.</summary>
    OutOfTime,

    /// <summary>The step allowance of this slice was used up; <see cref="PartitionSearch{TState, TInput, TOutput}.Advance"/> resumes.</summary>
    Paused,
}

/// <summary>A point in time after which a search gives up; checked cheaply.</summary>
internal sealed class Deadline
{
    private readonly long _end;
    private readonly CancellationToken _cancellation;

    public Deadline(TimeSpan budget, CancellationToken cancellation)
    {
        _cancellation = cancellation;
        var ticks = budget <= TimeSpan.Zero ? 0 : budget.TotalSeconds * Stopwatch.Frequency;
        _end = ticks >= long.MaxValue / 2 ? long.MaxValue : Stopwatch.GetTimestamp() + (long)ticks;
    }

    private Deadline(long end, CancellationToken cancellation)
    {
        _end = end;
        _cancellation = cancellation;
    }

    /// <summary>The same point in time, also expired when <paramref name="cancellation"/> is cancelled (which should be linked to this deadline's token).</summary>
    public Deadline WithCancellation(CancellationToken cancellation) => new(_end, cancellation);

    public bool Expired => _cancellation.IsCancellationRequested || Stopwatch.GetTimestamp() > _end;
}

/// <summary>One call or return event of a history, in the order the search walks them.</summary>
internal readonly record struct HistoryEvent(int Op, bool IsCall, long Time);

/// <summary>Helpers shared by the searches (<see cref="PartitionSearch{TState, TInput, TOutput}"/>).</summary>
internal static class Search
{

    /// <summary>Sorts the call/return events: by time; at equal times calls before returns (so touching intervals are
    /// concurrent, the permissive reading); then by operation index, for determinism. Indeterminate operations return
    /// at +infinity.</summary>
    public static HistoryEvent[] BuildEvents<TInput, TOutput>(IReadOnlyList<Operation<TInput, TOutput>> ops)
    {
        var events = new HistoryEvent[ops.Count * 2];
        for (var i = 0; i < ops.Count; i++)
        {
            events[2 * i] = new HistoryEvent(i, true, ops[i].Call);
            events[2 * i + 1] = new HistoryEvent(i, false, ops[i].Return ?? long.MaxValue);
        }

        Array.Sort(events, static (a, b) =>
        {
            var c = a.Time.CompareTo(b.Time);
            if (c != 0)
            {
                return c;
            }

            if (a.IsCall != b.IsCall)
            {
                return a.IsCall ? -1 : 1;
            }

            return a.Op.CompareTo(b.Op);
        });
        return events;
    }

    /// <summary>Runs a search to the end (or the deadline) and returns the linearization it found, if any.</summary>
    public static (SearchOutcome Outcome, int[]? Linearization) RunWithLinearization<TState, TInput, TOutput>(
        IModel<TState, TInput, TOutput> model,
        IReadOnlyList<Operation<TInput, TOutput>> ops,
        Deadline deadline,
        ref long steps)
    {
        var search = new PartitionSearch<TState, TInput, TOutput>(model, ops);
        var outcome = search.Advance(long.MaxValue, deadline);
        steps += search.Steps;
        return (outcome, search.Linearization);
    }

    internal sealed class Node
    {
        public int Op;
        public bool IsCall;
        public Node? Match;
        public Node? Prev;
        public Node? Next;
    }

    internal static void Lift(Node entry)
    {
        entry.Prev!.Next = entry.Next;
        entry.Next!.Prev = entry.Prev;
        var match = entry.Match!;
        match.Prev!.Next = match.Next;
        if (match.Next is not null)
        {
            match.Next.Prev = match.Prev;
        }
    }

    internal static void Unlift(Node entry)
    {
        var match = entry.Match!;
        match.Prev!.Next = match;
        if (match.Next is not null)
        {
            match.Next.Prev = match;
        }

        entry.Prev!.Next = entry;
        entry.Next!.Prev = entry;
    }

    internal static ulong SplitMix64(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

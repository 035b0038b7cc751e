using System.Diagnostics;

namespace OpenReplica.Checker;

internal enum SearchOutcome
{
    Linearizable,
    NotLinearizable,
    OutOfTime,
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

    public bool Expired => _cancellation.IsCancellationRequested || Stopwatch.GetTimestamp() > _end;
}

/// <summary>One call or return event of a history, in the order the search walks them.</summary>
internal readonly record struct HistoryEvent(int Op, bool IsCall, long Time);

/// <summary>
/// Wing &amp; Gong's algorithm with Lowe's state cache, as implemented by Porcupine: a doubly linked list of call/return
/// entries sorted by time; linearizing an operation lifts its call and return out of the list; reaching a return entry
/// means the operation it belongs to should already have been linearized, so the search backtracks. A cache of
/// (set of linearized operations, model state) pairs prunes configurations already explored.
/// </summary>
internal static class Search
{
    private const int CheckDeadlineEvery = 1024;

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

    private sealed class Node
    {
        public int Op;
        public bool IsCall;
        public Node? Match;
        public Node? Prev;
        public Node? Next;
    }

    private sealed class CacheEntry<TState>(ulong[] bits, TState state, int hash)
    {
        public ulong[] Bits = bits;
        public TState State = state;
        public int Hash = hash;
    }

    private sealed class CacheComparer<TState>(IEqualityComparer<TState> states) : IEqualityComparer<CacheEntry<TState>>
    {
        public bool Equals(CacheEntry<TState>? x, CacheEntry<TState>? y)
            => x!.Hash == y!.Hash && x.Bits.AsSpan().SequenceEqual(y.Bits) && states.Equals(x.State, y.State);

        public int GetHashCode(CacheEntry<TState> obj) => obj.Hash;
    }

    public static SearchOutcome Run<TState, TInput, TOutput>(
        IModel<TState, TInput, TOutput> model,
        IReadOnlyList<Operation<TInput, TOutput>> ops,
        Deadline deadline,
        ref long steps)
    {
        var n = ops.Count;
        if (n == 0)
        {
            return SearchOutcome.Linearizable;
        }

        var inputs = new TInput[n];
        var outputs = new TOutput?[n];
        var indeterminate = new bool[n];
        var zobrist = new ulong[n];
        var seed = 0x9E3779B97F4A7C15UL;
        var determinateLeft = 0;
        for (var i = 0; i < n; i++)
        {
            inputs[i] = ops[i].Input;
            indeterminate[i] = ops[i].Return is null;
            outputs[i] = indeterminate[i] ? default : ops[i].Output;
            zobrist[i] = SplitMix64(ref seed);
            if (!indeterminate[i])
            {
                determinateLeft++;
            }
        }

        if (determinateLeft == 0)
        {
            return SearchOutcome.Linearizable; // every operation may simply never have taken effect
        }

        // Symmetry: indeterminate operations with equal inputs are interchangeable, so they are linearized in call
        // order (an earlier-called twin can stand in wherever a later one was linearized).
        var previousTwin = new int[n];
        var lastOfInput = new Dictionary<object, int>();
        var nullTwin = -1;
        foreach (var e in BuildEvents(ops))
        {
            if (!e.IsCall)
            {
                continue;
            }

            var i = e.Op;
            previousTwin[i] = -1;
            if (!indeterminate[i])
            {
                continue;
            }

            if (inputs[i] is null)
            {
                previousTwin[i] = nullTwin;
                nullTwin = i;
            }
            else
            {
                previousTwin[i] = lastOfInput.TryGetValue(inputs[i]!, out var twin) ? twin : -1;
                lastOfInput[inputs[i]!] = i;
            }
        }

        // Linked list of entries, with a sentinel head.
        var head = new Node { Op = -1 };
        var calls = new Node[n];
        var tail = head;
        foreach (var e in BuildEvents(ops))
        {
            var node = new Node { Op = e.Op, IsCall = e.IsCall, Prev = tail };
            tail.Next = node;
            tail = node;
            if (e.IsCall)
            {
                calls[e.Op] = node;
            }
            else
            {
                calls[e.Op].Match = node;
            }
        }

        var stateComparer = model.StateComparer;
        var cache = new HashSet<CacheEntry<TState>>(new CacheComparer<TState>(stateComparer));
        var bits = new ulong[(n + 63) / 64];
        ulong linearizedHash = 0;
        var probe = new CacheEntry<TState>(bits, model.Init(), 0);
        var stackEntries = new Node[n];
        var stackStates = new TState[n];
        var depth = 0;
        var state = model.Init();
        var entry = head.Next;
        long iterations = 0;

        try
        {
            while (true)
            {
                if (++iterations % CheckDeadlineEvery == 0 && deadline.Expired)
                {
                    return SearchOutcome.OutOfTime;
                }

                if (entry!.IsCall)
                {
                    var op = entry.Op;
                    bool ok;
                    TState next;
                    if (indeterminate[op])
                    {
                        var twin = previousTwin[op];
                        if (twin >= 0 && (bits[twin >> 6] & (1UL << (twin & 63))) == 0)
                        {
                            entry = entry.Next;
                            continue;
                        }

                        (ok, next) = model.StepIndeterminate(state, inputs[op]);

                        // An indeterminate operation that changes nothing here is equivalent to one that never took
                        // effect, which the end of the search allows anyway: not worth a branch.
                        ok = ok && !stateComparer.Equals(next, state);
                    }
                    else
                    {
                        (ok, next) = model.Step(state, inputs[op], outputs[op]);
                    }

                    if (ok)
                    {
                        bits[op >> 6] |= 1UL << (op & 63);
                        var newHash = linearizedHash ^ zobrist[op];
                        var hash = HashCode.Combine(newHash, next is null ? 0 : stateComparer.GetHashCode(next));
                        probe.State = next;
                        probe.Hash = hash;
                        if (!cache.Contains(probe))
                        {
                            cache.Add(new CacheEntry<TState>((ulong[])bits.Clone(), next, hash));
                            stackEntries[depth] = entry;
                            stackStates[depth] = state;
                            depth++;
                            state = next;
                            linearizedHash = newHash;
                            Lift(entry);
                            if (!indeterminate[op] && --determinateLeft == 0)
                            {
                                // The remaining operations are indeterminate: they may never take effect.
                                return SearchOutcome.Linearizable;
                            }

                            entry = head.Next;
                            continue;
                        }

                        bits[op >> 6] &= ~(1UL << (op & 63));
                    }

                    entry = entry.Next;
                }
                else
                {
                    // The operation owning this return has not been linearized: backtrack.
                    if (depth == 0)
                    {
                        return SearchOutcome.NotLinearizable;
                    }

                    depth--;
                    entry = stackEntries[depth];
                    state = stackStates[depth];
                    var op = entry.Op;
                    bits[op >> 6] &= ~(1UL << (op & 63));
                    linearizedHash ^= zobrist[op];
                    if (!indeterminate[op])
                    {
                        determinateLeft++;
                    }

                    Unlift(entry);
                    entry = entry.Next;
                }
            }
        }
        finally
        {
            steps += iterations;
        }
    }

    private static void Lift(Node entry)
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

    private static void Unlift(Node entry)
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

    private static ulong SplitMix64(ref ulong x)
    {
        var z = x += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}

using static OpenReplica.Checker.Search;

namespace OpenReplica.Checker;

/// <summary>
/// Wing &amp; Gong's algorithm with Lowe's state cache, as implemented by Porcupine, for one partition: a doubly linked
/// list of call/return entries sorted by time; linearizing an operation lifts its call and return out of the list;
/// reaching a return entry means the operation it belongs to should already have been linearized, so the search
/// backtracks. A cache of (set of linearized operations, model state) pairs prunes configurations already explored.
/// </summary>
/// <remarks>
/// The search is resumable: <see cref="Advance"/> runs at most a given number of steps and can be called again, so a
/// scheduler can interleave many partitions (one hard partition does not starve the others). Not thread-safe: one
/// thread at a time.
/// </remarks>
internal sealed class PartitionSearch<TState, TInput, TOutput> : IResumableSearch
{
    private const int CheckDeadlineEvery = 1024;

    private readonly IModel<TState, TInput, TOutput> _model;
    private readonly IEqualityComparer<TState> _stateComparer;
    private readonly int _count;
    private readonly TInput[] _inputs;
    private readonly TOutput?[] _outputs;
    private readonly bool[] _indeterminate;
    private readonly ulong[] _zobrist;
    private readonly int[] _previousTwin;
    private readonly bool _recordDeepest;
    private readonly Node _head = new() { Op = -1 };
    private readonly HashSet<CacheEntry> _cache;
    private readonly ulong[] _bits;
    private readonly CacheEntry _probe;
    private readonly Node[] _stackEntries;
    private readonly TState[] _stackStates;

    private ulong _linearizedHash;
    private int _depth;
    private int _determinateLeft;
    private TState _state;
    private Node? _entry;
    private SearchOutcome? _result;

    /// <param name="model">The model.</param>
    /// <param name="ops">The partition's operations.</param>
    /// <param name="recordDeepest">Whether to keep the longest partial linearization reached (<see cref="Deepest"/>).</param>
    public PartitionSearch(IModel<TState, TInput, TOutput> model, IReadOnlyList<Operation<TInput, TOutput>> ops, bool recordDeepest = false)
    {
        _recordDeepest = recordDeepest;
        _model = model;
        _stateComparer = model.StateComparer;
        var n = _count = ops.Count;
        _inputs = new TInput[n];
        _outputs = new TOutput?[n];
        _indeterminate = new bool[n];
        _zobrist = new ulong[n];
        var seed = 0x9E3779B97F4A7C15UL;
        for (var i = 0; i < n; i++)
        {
            _inputs[i] = ops[i].Input;
            _indeterminate[i] = ops[i].Return is null;
            _outputs[i] = _indeterminate[i] ? default : ops[i].Output;
            _zobrist[i] = SplitMix64(ref seed);
            if (!_indeterminate[i])
            {
                _determinateLeft++;
            }
        }

        var events = BuildEvents(ops);
        _previousTwin = PreviousTwins(events);

        // Linked list of entries, after the sentinel head.
        var calls = new Node[n];
        var tail = _head;
        foreach (var e in events)
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

        _cache = new HashSet<CacheEntry>(new CacheComparer(_stateComparer));
        _bits = new ulong[(n + 63) / 64];
        _probe = new CacheEntry(_bits, model.Init(), 0);
        _stackEntries = new Node[n];
        _stackStates = new TState[n];
        _state = model.Init();
        _entry = _head.Next;
        if (n == 0 || _determinateLeft == 0)
        {
            _result = SearchOutcome.Linearizable; // every operation may simply never have taken effect
        }
    }

    /// <summary>Search steps taken so far.</summary>
    public long Steps { get; private set; }

    /// <summary>Once <see cref="Advance"/> returned <see cref="SearchOutcome.Linearizable"/>: the operations (indices
    /// into the partition) in the order they were linearized. Indeterminate operations left out never took effect.</summary>
    public int[]? Linearization { get; private set; }

    /// <summary>With recordDeepest: the longest sequence of operations linearized so far (for a search that did not finish).</summary>
    public int[]? Deepest { get; private set; }

    /// <summary>
    /// Searches for at most <paramref name="maxSteps"/> steps: returns the verdict, <see cref="SearchOutcome.Paused"/>
    /// when the steps are used up (call again to continue), or <see cref="SearchOutcome.OutOfTime"/>.
    /// </summary>
    public SearchOutcome Advance(long maxSteps, Deadline deadline)
    {
        if (_result is { } done)
        {
            Linearization ??= done == SearchOutcome.Linearizable ? CurrentOrder() : null;
            return done;
        }

        long iterations = 0;
        try
        {
            while (true)
            {
                if (++iterations % CheckDeadlineEvery == 0 && deadline.Expired)
                {
                    return SearchOutcome.OutOfTime;
                }

                if (iterations > maxSteps)
                {
                    return SearchOutcome.Paused;
                }

                if (_entry!.IsCall)
                {
                    if (TryLinearize(_entry))
                    {
                        if (_determinateLeft == 0)
                        {
                            // The remaining operations are indeterminate: they may never take effect.
                            Linearization = CurrentOrder();
                            _result = SearchOutcome.Linearizable;
                            return SearchOutcome.Linearizable;
                        }

                        _entry = _head.Next;
                    }
                    else
                    {
                        _entry = _entry.Next;
                    }
                }
                else
                {
                    // The operation owning this return has not been linearized: backtrack.
                    if (_depth == 0)
                    {
                        _result = SearchOutcome.NotLinearizable;
                        return SearchOutcome.NotLinearizable;
                    }

                    Backtrack();
                }
            }
        }
        finally
        {
            Steps += iterations;
        }
    }

    /// <summary>Tries to linearize the operation of a call entry next; true if it was (and the entry lifted).</summary>
    private bool TryLinearize(Node entry)
    {
        var op = entry.Op;
        bool ok;
        TState next;
        if (_indeterminate[op])
        {
            var twin = _previousTwin[op];
            if (twin >= 0 && (_bits[twin >> 6] & (1UL << (twin & 63))) == 0)
            {
                return false;
            }

            (ok, next) = _model.StepIndeterminate(_state, _inputs[op]);

            // An indeterminate operation that changes nothing here is equivalent to one that never took
            // effect, which the end of the search allows anyway: not worth a branch.
            ok = ok && !_stateComparer.Equals(next, _state);
        }
        else
        {
            (ok, next) = _model.Step(_state, _inputs[op], _outputs[op]);
        }

        if (!ok)
        {
            return false;
        }

        _bits[op >> 6] |= 1UL << (op & 63);
        var newHash = _linearizedHash ^ _zobrist[op];
        var hash = HashCode.Combine(newHash, next is null ? 0 : _stateComparer.GetHashCode(next));
        _probe.State = next;
        _probe.Hash = hash;
        if (_cache.Contains(_probe))
        {
            _bits[op >> 6] &= ~(1UL << (op & 63));
            return false;
        }

        _cache.Add(new CacheEntry((ulong[])_bits.Clone(), next, hash));
        _stackEntries[_depth] = entry;
        _stackStates[_depth] = _state;
        _depth++;
        if (_recordDeepest && _depth > (Deepest?.Length ?? 0))
        {
            Deepest = CurrentOrder(); // at most once per new maximum depth
        }

        _state = next;
        _linearizedHash = newHash;
        Lift(entry);
        if (!_indeterminate[op])
        {
            _determinateLeft--;
        }

        return true;
    }

    private void Backtrack()
    {
        _depth--;
        var entry = _stackEntries[_depth];
        _state = _stackStates[_depth];
        _stackStates[_depth] = default!; // let the state be collected
        var op = entry.Op;
        _bits[op >> 6] &= ~(1UL << (op & 63));
        _linearizedHash ^= _zobrist[op];
        if (!_indeterminate[op])
        {
            _determinateLeft++;
        }

        Unlift(entry);
        _entry = entry.Next;
    }

    private int[] CurrentOrder()
    {
        var order = new int[_depth];
        for (var d = 0; d < _depth; d++)
        {
            order[d] = _stackEntries[d].Op;
        }

        return order;
    }

    /// <summary>Symmetry: indeterminate operations with equal inputs are interchangeable, so they are linearized in
    /// call order (an earlier-called twin can stand in wherever a later one was linearized). Returns, per operation,
    /// its previous twin or -1.</summary>
    private int[] PreviousTwins(HistoryEvent[] events)
    {
        var previousTwin = new int[_count];
        var lastOfInput = new Dictionary<object, int>();
        var nullTwin = -1;
        foreach (var e in events)
        {
            if (!e.IsCall)
            {
                continue;
            }

            var i = e.Op;
            previousTwin[i] = -1;
            if (!_indeterminate[i])
            {
                continue;
            }

            if (_inputs[i] is null)
            {
                previousTwin[i] = nullTwin;
                nullTwin = i;
            }
            else
            {
                previousTwin[i] = lastOfInput.TryGetValue(_inputs[i]!, out var twin) ? twin : -1;
                lastOfInput[_inputs[i]!] = i;
            }
        }

        return previousTwin;
    }

    private sealed class CacheEntry(ulong[] bits, TState state, int hash)
    {
        public ulong[] Bits = bits;
        public TState State = state;
        public int Hash = hash;
    }

    private sealed class CacheComparer(IEqualityComparer<TState> states) : IEqualityComparer<CacheEntry>
    {
        public bool Equals(CacheEntry? x, CacheEntry? y)
            => x!.Hash == y!.Hash && x.Bits.AsSpan().SequenceEqual(y.Bits) && states.Equals(x.State, y.State);

        public int GetHashCode(CacheEntry obj) => obj.Hash;
    }
}

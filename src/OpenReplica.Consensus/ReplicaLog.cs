namespace OpenReplica.Consensus;

/// <summary>
/// The replica's view of the log: accepted entries above the snapshot, which of them are known chosen,
/// and the commit index. Invariants: SnapshotSlot &lt;= CommitIndex; every slot in (SnapshotSlot, CommitIndex]
/// has a chosen entry; a chosen entry never changes.
/// </summary>
internal sealed class ReplicaLog
{
    // Sorted by slot. Entries arrive almost always at the end and leave from the front in bulk (truncation), so a
    // sorted array gives O(1) appends, O(1) LastSlot and O(log n) range starts; a tree made every After() and
    // LastSlot a walk from the first entry, on every message.
    private SortedList<long, LogEntry> _entries = [];

    public long SnapshotSlot { get; private set; }

    /// <summary>Every slot up to here is chosen and known to this replica.</summary>
    public long CommitIndex { get; private set; }

    public long LastSlot => _entries.Count == 0 ? CommitIndex : Math.Max(CommitIndex, _entries.Keys[^1]);

    public int Count => _entries.Count;

    public LogEntry? Get(long slot) => _entries.TryGetValue(slot, out var e) ? e : null;

    public bool IsChosen(long slot) => slot <= CommitIndex || (_entries.TryGetValue(slot, out var e) && e.Chosen);

    /// <summary>Records an accepted (not chosen) value; a chosen entry is never overwritten.</summary>
    public LogEntry Accept(long slot, Ballot ballot, LogValue value)
    {
        Invariant.Assert(slot > SnapshotSlot);
        Invariant.Assert(!IsChosen(slot));
        var entry = new LogEntry(slot, ballot, value, Chosen: false);
        _entries[slot] = entry;
        return entry;
    }

    /// <summary>Records that <paramref name="value"/> is chosen at <paramref name="slot"/>.</summary>
    public LogEntry Choose(long slot, Ballot ballot, LogValue value)
    {
        Invariant.Assert(slot > SnapshotSlot);
        if (_entries.TryGetValue(slot, out var existing) && existing.Chosen)
        {
            // Paxos: a slot has one chosen value; learning a different one means the protocol is broken.
            Invariant.Assert(ReferenceEquals(existing.Value, value) || SameValue(existing.Value, value));
            return existing;
        }
        var entry = new LogEntry(slot, ballot, value, Chosen: true);
        _entries[slot] = entry;
        return entry;
    }

    private static readonly LogEntry[] NoEntries = [];

    /// <summary>
    /// Moves the commit index over every contiguous chosen slot; returns the newly committed entries (a shared empty
    /// list when none: this runs after every message, and most move nothing; callers only read it).
    /// </summary>
    public IReadOnlyList<LogEntry> AdvanceCommit()
    {
        List<LogEntry>? committed = null;
        while (_entries.TryGetValue(CommitIndex + 1, out var next) && next.Chosen)
        {
            CommitIndex++;
            (committed ??= []).Add(next);
        }
        return (IReadOnlyList<LogEntry>?)committed ?? NoEntries;
    }

    /// <summary>
    /// The not-yet-chosen entries in (CommitIndex, <paramref name="through"/>] accepted under <paramref name="ballot"/>,
    /// chosen now (the leader of that ballot says they are). Walks the entries this log holds, never slot numbers:
    /// <paramref name="through"/> comes from a peer and may be anything.
    /// </summary>
    public void ChooseAcceptedThrough(Ballot ballot, long through)
    {
        var keys = _entries.Keys;
        var values = _entries.Values;
        for (int i = FirstAbove(CommitIndex); i < keys.Count && keys[i] <= through; i++)
        {
            var e = values[i];
            // Replacing the value at an index keeps the keys, so the indexes stay valid.
            if (!e.Chosen && e.Ballot == ballot) _entries.SetValueAtIndex(i, e with { Chosen = true });
        }
    }

    /// <summary>
    /// Entries above <paramref name="slot"/>, in slot order. A struct: a foreach over it allocates nothing (the leader
    /// and learner walk it for every accept they push or serve); LINQ over it boxes it like any sequence.
    /// </summary>
    public EntriesAbove After(long slot) => new(this, FirstAbove(slot));

    /// <summary>The entries of a <see cref="ReplicaLog"/> from an index on (see <see cref="After"/>).</summary>
    public readonly struct EntriesAbove(ReplicaLog log, int first) : IEnumerable<LogEntry>
    {
        public Enumerator GetEnumerator() => new(log, first);

        IEnumerator<LogEntry> IEnumerable<LogEntry>.GetEnumerator() => GetEnumerator();

        System.Collections.IEnumerator System.Collections.IEnumerable.GetEnumerator() => GetEnumerator();

        public struct Enumerator(ReplicaLog log, int first) : IEnumerator<LogEntry>
        {
            private readonly int _count = log._entries.Count;
            private int _index = first - 1;

            public readonly LogEntry Current => log._entries.Values[_index];

            readonly object System.Collections.IEnumerator.Current => Current;

            public bool MoveNext()
            {
                // Callers copy (ToList) before changing the log; a change while enumerating is a bug, as it was with the tree.
                Invariant.Assert(log._entries.Count == _count);
                return ++_index < _count;
            }

            public void Reset() => _index = first - 1;

            public readonly void Dispose()
            {
            }
        }
    }

    /// <summary>The index of the first entry whose slot is above <paramref name="slot"/> (Count if none).</summary>
    private int FirstAbove(long slot)
    {
        var keys = _entries.Keys;
        int lo = 0, hi = keys.Count;
        while (lo < hi)
        {
            int mid = (lo + hi) >>> 1;
            if (keys[mid] <= slot) lo = mid + 1;
            else hi = mid;
        }
        return lo;
    }

    /// <summary>Keeps only the entries above <paramref name="slot"/> (one copy of the rest, not a shift per removed entry).</summary>
    private void DropThrough(long slot)
    {
        int first = FirstAbove(slot);
        if (first == 0) return;
        var rest = new SortedList<long, LogEntry>(Math.Max(4, _entries.Count - first));
        var keys = _entries.Keys;
        var values = _entries.Values;
        for (int i = first; i < keys.Count; i++) rest.Add(keys[i], values[i]);
        _entries = rest;
    }

    /// <summary>Drops entries up to and including <paramref name="slot"/> (all of them chosen and applied).</summary>
    public void TruncateThrough(long slot)
    {
        Invariant.Assert(slot <= CommitIndex);
        DropThrough(slot);
        SnapshotSlot = Math.Max(SnapshotSlot, slot);
    }

    /// <summary>Replaces everything up to the snapshot's slot with the snapshot.</summary>
    public void ResetTo(long snapshotSlot)
    {
        DropThrough(snapshotSlot);
        SnapshotSlot = snapshotSlot;
        CommitIndex = Math.Max(CommitIndex, snapshotSlot);
    }

    internal static bool SameValue(LogValue a, LogValue b)
    {
        if (a.Kind != b.Kind) return false;
        return a.Kind switch
        {
            LogValueKind.Noop => true,
            LogValueKind.Config => a.Config!.Equals(b.Config),
            _ => a.Commands.Count == b.Commands.Count && a.Commands.Zip(b.Commands).All(p =>
                p.First.Id == p.Second.Id && p.First.Payload.AsSpan().SequenceEqual(p.Second.Payload)),
        };
    }
}

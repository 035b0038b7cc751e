namespace OpenReplica.Consensus;

/// <summary>
/// The replica's view of the log: accepted entries above the snapshot, which of them are known chosen,
/// and the commit index. Invariants: SnapshotSlot &lt;= CommitIndex; every slot in (SnapshotSlot, CommitIndex]
/// has a chosen entry; a chosen entry never changes.
/// </summary>
internal sealed class ReplicaLog
{
    private readonly SortedDictionary<long, LogEntry> _entries = [];

    public long SnapshotSlot { get; private set; }

    /// <summary>Every slot up to here is chosen and known to this replica.</summary>
    public long CommitIndex { get; private set; }

    public long LastSlot => _entries.Count == 0 ? CommitIndex : Math.Max(CommitIndex, _entries.Keys.Last());

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

    /// <summary>Moves the commit index over every contiguous chosen slot; returns the newly committed entries.</summary>
    public List<LogEntry> AdvanceCommit()
    {
        var committed = new List<LogEntry>();
        while (_entries.TryGetValue(CommitIndex + 1, out var next) && next.Chosen)
        {
            CommitIndex++;
            committed.Add(next);
        }
        return committed;
    }

    /// <summary>Entries above <paramref name="slot"/>, in slot order.</summary>
    public IEnumerable<LogEntry> After(long slot) => _entries.Where(kv => kv.Key > slot).Select(kv => kv.Value);

    /// <summary>Drops entries up to and including <paramref name="slot"/> (all of them chosen and applied).</summary>
    public void TruncateThrough(long slot)
    {
        Invariant.Assert(slot <= CommitIndex);
        foreach (long s in _entries.Keys.Where(s => s <= slot).ToList()) _entries.Remove(s);
        SnapshotSlot = Math.Max(SnapshotSlot, slot);
    }

    /// <summary>Replaces everything up to the snapshot's slot with the snapshot.</summary>
    public void ResetTo(long snapshotSlot)
    {
        foreach (long s in _entries.Keys.Where(s => s <= snapshotSlot).ToList()) _entries.Remove(s);
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

namespace OpenReplica.Storage;

/// <summary>
/// Memory-only <see cref="IReplicaLog"/> for Volatile mode and tests: same retention rules as the durable log,
/// nothing survives the process. Appends complete immediately.
/// Records are kept per group, each group's list pruned by itself when it has doubled since its last prune. One list
/// for the whole silo grew into large arrays that each doubling copied onto fresh pages, each prune scanned every
/// group's records, and each record hashed its group id for the index lookup: the append was 10.5 % of a Volatile
/// silo's CPU under spread writes, 6.0 % per group (docs/benchmarks.md, "Session 14").
/// </summary>
public sealed class VolatileLog : IReplicaLog
{
    private const int MinPruneAt = 16;

    private readonly object _sync = new();
    // Each group's retention state with its records (no separate RetentionIndex: every group stays in memory here).
    private readonly Dictionary<string, GroupRecords> _groups = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (long Slot, byte[] Data)> _snapshots = new(StringComparer.Ordinal);
    private long _nextLsn = 1;
    private bool _disposed;

    /// <summary>Records held in memory, retained or not yet pruned (for tests of the memory bound).</summary>
    internal int RecordsHeld
    {
        get
        {
            lock (_sync) return _groups.Values.Sum(g => g.Records.Count);
        }
    }

    /// <inheritdoc/>
    public ValueTask AppendAsync(WalRecord record, CancellationToken ct = default) => AppendAsync([record], ct);

    /// <inheritdoc/>
    public ValueTask AppendAsync(IReadOnlyList<WalRecord> records, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        ct.ThrowIfCancellationRequested();
        foreach (WalRecord record in records)
        {
            WriteAheadLog.ValidateGroupId(record.GroupId);
            if (record.Kind == WalRecordKind.GroupDeleted || !Enum.IsDefined(record.Kind))
            {
                throw new ArgumentException($"Record kind {record.Kind} cannot be appended (use DeleteGroupAsync to delete a group).", nameof(records));
            }
        }

        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            foreach (WalRecord record in records)
            {
                // Copy: the caller may reuse its buffer once the append completes, which is now.
                var group = Add(record with { Payload = record.Payload.ToArray() });

                // Superseded records are dropped in amortized passes so memory tracks the retained set.
                if (group.Records.Count >= group.PruneAt) Prune(group);
            }
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public GroupIdSet TakeRecoveredGroups() => new(); // memory only: nothing survives a restart

    /// <inheritdoc/>
    public IEnumerable<WalRecord> ReadAll()
    {
        lock (_sync)
        {
            // Append order across groups: LSNs are handed out in append order.
            return _groups.Values.SelectMany(g => g.Records).Where(r => IsRetained(r.Entry))
                .OrderBy(r => r.Entry.Lsn).Select(r => r.Record).ToList();
        }
    }

    /// <inheritdoc/>
    public IEnumerable<WalRecord> ReadAll(string groupId)
    {
        ArgumentException.ThrowIfNullOrEmpty(groupId);
        lock (_sync)
        {
            return _groups.TryGetValue(groupId, out var group)
                ? group.Records.Where(r => IsRetained(r.Entry)).Select(r => r.Record).ToList()
                : [];
        }
    }

    /// <inheritdoc/>
    public ValueTask SaveSnapshotAsync(string groupId, long slot, ReadOnlyMemory<byte> snapshot, CancellationToken ct = default)
    {
        WriteAheadLog.ValidateGroupId(groupId);
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            GroupRecords group = GroupOf(groupId);
            if (slot < group.State.SnapshotSlot)
            {
                throw new InvalidOperationException($"Group '{groupId}' already has a snapshot at slot {group.State.SnapshotSlot}; cannot save one at slot {slot}.");
            }

            group.State.InstallSnapshot(slot, _nextLsn);
            _snapshots[groupId] = (slot, snapshot.ToArray());
            Prune(group);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public (long Slot, byte[] Data)? LoadSnapshot(string groupId)
    {
        lock (_sync)
        {
            return _snapshots.TryGetValue(groupId, out (long Slot, byte[] Data) s) ? (s.Slot, s.Data.ToArray()) : null;
        }
    }

    /// <inheritdoc/>
    public void ReleaseGroup(string groupId)
    {
        // The records live only in memory here: there is nothing to fall back on, so nothing is released.
    }

    /// <inheritdoc/>
    public ValueTask DeleteGroupAsync(string groupId, CancellationToken ct = default)
    {
        WriteAheadLog.ValidateGroupId(groupId);
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            var group = Add(new WalRecord(groupId, WalRecordKind.GroupDeleted, 0, 0, 0, ReadOnlyMemory<byte>.Empty));
            _snapshots.Remove(groupId);
            Prune(group);
        }

        return ValueTask.CompletedTask;
    }

    /// <inheritdoc/>
    public ValueTask DisposeAsync()
    {
        lock (_sync)
        {
            _disposed = true;
        }

        return ValueTask.CompletedTask;
    }

    private GroupRecords Add(WalRecord record)
    {
        GroupRecords group = GroupOf(record.GroupId);
        var entry = new IndexEntry(_nextLsn++, group.State, record.Kind, record.Slot, 0, 0);
        group.State.Apply(entry, 0);
        group.Records.Add((entry, record));
        return group;
    }

    private GroupRecords GroupOf(string groupId)
    {
        if (!_groups.TryGetValue(groupId, out GroupRecords? group))
        {
            group = new GroupRecords(new GroupState(groupId, GroupKey.Of(groupId)));
            _groups.Add(groupId, group);
        }

        return group;
    }

    // There is a single "segment" 0 that is always the oldest, so tombstones are never retained here.
    private static bool IsRetained(in IndexEntry entry) =>
        entry.Kind != WalRecordKind.GroupDeleted && entry.Group.IsLive(entry, 0, inOldestSegment: true);

    private void Prune(GroupRecords group)
    {
        group.Records.RemoveAll(r => !IsRetained(r.Entry));
        group.State.ForgetTombstoneIn(0);
        if (group.State.IsEmpty)
        {
            // A deleted group leaves no trace; appended to again, it starts a new state (its old records are gone).
            _groups.Remove(group.State.GroupId);
            return;
        }

        group.PruneAt = Math.Max(MinPruneAt, group.Records.Count * 2);
    }

    /// <summary>One group's retention state and its records in append order.</summary>
    private sealed class GroupRecords(GroupState state)
    {
        public GroupState State { get; } = state;

        public List<(IndexEntry Entry, WalRecord Record)> Records { get; } = [];

        public int PruneAt { get; set; } = MinPruneAt;
    }
}

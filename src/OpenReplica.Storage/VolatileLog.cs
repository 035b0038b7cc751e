namespace OpenReplica.Storage;

/// <summary>
/// Memory-only <see cref="IReplicaLog"/> for Volatile mode and tests: same retention rules as the durable log,
/// nothing survives the process. Appends complete immediately.
/// </summary>
public sealed class VolatileLog : IReplicaLog
{
    private readonly object _sync = new();
    private readonly RetentionIndex _index = new();
    private readonly List<(IndexEntry Entry, WalRecord Record)> _records = [];
    private readonly Dictionary<string, (long Slot, byte[] Data)> _snapshots = new(StringComparer.Ordinal);
    private long _nextLsn = 1;
    private int _pruneAt = 1024;
    private bool _disposed;

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
                Add(record with { Payload = record.Payload.ToArray() });
            }

            // Superseded records are dropped in amortized passes so memory tracks the retained set.
            if (_records.Count >= _pruneAt)
            {
                Prune();
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
            return _records.Where(r => IsRetained(r.Entry)).Select(r => r.Record).ToList();
        }
    }

    /// <inheritdoc/>
    public IEnumerable<WalRecord> ReadAll(string groupId)
    {
        ArgumentException.ThrowIfNullOrEmpty(groupId);
        lock (_sync)
        {
            return _records.Where(r => r.Entry.Group.GroupId == groupId && IsRetained(r.Entry)).Select(r => r.Record).ToList();
        }
    }

    /// <inheritdoc/>
    public ValueTask SaveSnapshotAsync(string groupId, long slot, ReadOnlyMemory<byte> snapshot, CancellationToken ct = default)
    {
        WriteAheadLog.ValidateGroupId(groupId);
        lock (_sync)
        {
            ObjectDisposedException.ThrowIf(_disposed, this);
            GroupState group = _index.GetOrAdd(groupId);
            if (slot < group.SnapshotSlot)
            {
                throw new InvalidOperationException($"Group '{groupId}' already has a snapshot at slot {group.SnapshotSlot}; cannot save one at slot {slot}.");
            }

            group.InstallSnapshot(slot, _nextLsn);
            _snapshots[groupId] = (slot, snapshot.ToArray());
            Prune();
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
            Add(new WalRecord(groupId, WalRecordKind.GroupDeleted, 0, 0, 0, ReadOnlyMemory<byte>.Empty));
            _snapshots.Remove(groupId);
            Prune();
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

    private void Add(WalRecord record)
    {
        GroupState group = _index.GetOrAdd(record.GroupId);
        var entry = new IndexEntry(_nextLsn++, group, record.Kind, record.Slot, 0, 0);
        group.Apply(entry, 0);
        _records.Add((entry, record));
    }

    // There is a single "segment" 0 that is always the oldest, so tombstones are never retained here.
    private static bool IsRetained(in IndexEntry entry) =>
        entry.Kind != WalRecordKind.GroupDeleted && entry.Group.IsLive(entry, 0, inOldestSegment: true);

    private void Prune()
    {
        _records.RemoveAll(r => !IsRetained(r.Entry));
        foreach (GroupState group in _index.Groups.ToList())
        {
            group.ForgetTombstoneIn(0);
            _index.RemoveIfEmpty(group);
        }

        _pruneAt = Math.Max(1024, _records.Count * 2);
    }
}

namespace OpenReplica.Storage;

/// <summary>
/// Which of a group's records are still needed. The rules depend only on LSNs and locations, never on the order in
/// which records are applied, so recovery (which sees carried-forward copies out of LSN order) reaches the same
/// state as the running log.
/// <list type="bullet">
/// <item>HardState: only the latest (highest LSN).</item>
/// <item>Accept: the latest per slot while above the compaction point (the snapshot).</item>
/// <item>GroupDeleted: hides every record of the group with a lower LSN; kept while older segments exist.</item>
/// </list>
/// </summary>
internal sealed class GroupState(string groupId)
{
    public const long NoSlot = long.MinValue;

    private SlotLocations _slots; // a mutable struct: never readonly
    private RecordLocation? _hardState;
    private RecordLocation? _tombstone;

    public string GroupId { get; } = groupId;

    public long SnapshotSlot { get; private set; } = NoSlot;

    /// <summary>The next LSN when the snapshot was taken; a tombstone at or above it makes the snapshot stale.</summary>
    public long SnapshotStamp { get; private set; }

    /// <summary>Records with a lower LSN belong to a deleted incarnation of the group.</summary>
    public long DeletedLsn { get; private set; }

    public long CompactedThrough => SnapshotSlot;

    public bool IsEmpty => _hardState is null && _tombstone is null
        && _slots.Count == 0 && SnapshotSlot == NoSlot;

    public void Apply(in IndexEntry entry, long segment)
    {
        var location = new RecordLocation(entry.Lsn, segment);
        if (entry.Kind == WalRecordKind.GroupDeleted)
        {
            ApplyTombstone(location);
            return;
        }

        if (entry.Lsn < DeletedLsn)
        {
            return;
        }

        switch (entry.Kind)
        {
            case WalRecordKind.HardState:
                if (location.Supersedes(_hardState))
                {
                    _hardState = location;
                }

                break;
            default:
                ApplySlot(entry, location);
                break;
        }
    }

    public bool IsLive(in IndexEntry entry, long segment, bool inOldestSegment)
    {
        var location = new RecordLocation(entry.Lsn, segment);
        switch (entry.Kind)
        {
            case WalRecordKind.GroupDeleted:
                // Older records of the group can only be in this segment or older ones; once it is the oldest,
                // deleting it deletes them too, so the tombstone has nothing left to hide.
                return !inOldestSegment && _tombstone == location;
            case WalRecordKind.HardState:
                return _hardState == location;
            default:
                return entry.Slot > CompactedThrough
                    && _slots.TryGetValue(new SlotKey(entry.Kind, entry.Slot), out RecordLocation current) && current == location;
        }
    }

    /// <summary>A live record was copied to another segment; point at the copy.</summary>
    public void Relocate(in IndexEntry entry, long from, long to)
    {
        var old = new RecordLocation(entry.Lsn, from);
        var moved = new RecordLocation(entry.Lsn, to);
        if (_hardState == old) _hardState = moved;
        if (_tombstone == old) _tombstone = moved;
        var key = new SlotKey(entry.Kind, entry.Slot);
        if (_slots.TryGetValue(key, out RecordLocation current) && current == old)
        {
            _slots.Set(key, moved);
        }
    }

    /// <summary>The segment holding the tombstone is gone; nothing of the old incarnation is left on disk.</summary>
    public void ForgetTombstoneIn(long segment)
    {
        if (_tombstone is { } t && t.Segment == segment)
        {
            _tombstone = null;
        }
    }

    /// <summary>Returns false if the snapshot predates a deletion of the group and must be discarded.</summary>
    public bool InstallSnapshot(long slot, long stamp)
    {
        if (stamp <= DeletedLsn)
        {
            return false;
        }

        if (slot >= SnapshotSlot)
        {
            SnapshotSlot = slot;
            SnapshotStamp = stamp;
            PruneCompactedSlots();
        }

        return true;
    }

    private void ApplySlot(in IndexEntry entry, RecordLocation location)
    {
        if (entry.Slot <= CompactedThrough)
        {
            return;
        }

        var key = new SlotKey(entry.Kind, entry.Slot);
        if (!_slots.TryGetValue(key, out RecordLocation current) || location.Supersedes(current))
        {
            _slots.Set(key, location);
        }
    }

    private void ApplyTombstone(RecordLocation location)
    {
        if (location.Lsn < DeletedLsn)
        {
            return;
        }

        if (location.Supersedes(_tombstone))
        {
            _tombstone = location;
        }

        if (location.Lsn == DeletedLsn)
        {
            return;
        }

        DeletedLsn = location.Lsn;
        // Drop only what is older than the tombstone: records of a re-created group may have been seen already.
        if (_hardState?.Lsn < DeletedLsn) _hardState = null;

        if (SnapshotStamp <= DeletedLsn)
        {
            SnapshotSlot = NoSlot;
            SnapshotStamp = 0;
        }

        long deleted = DeletedLsn;
        _slots.RemoveWhere((_, location) => location.Lsn < deleted);
    }

    private void PruneCompactedSlots()
    {
        long through = CompactedThrough;
        _slots.RemoveWhere((key, _) => key.Slot <= through);
    }
}

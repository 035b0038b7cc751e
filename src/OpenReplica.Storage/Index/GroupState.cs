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
internal sealed class GroupState(string groupId, GroupKey key)
{
    public const long NoSlot = long.MinValue;

    private SlotLocations _slots; // a mutable struct: never readonly
    private RecordLocation? _hardState;
    private RecordLocation? _tombstone;

    public string GroupId { get; } = groupId;

    public GroupKey Key { get; } = key;

    /// <summary>Told about every record that becomes or stops being retained; null while a cold group is being loaded.</summary>
    public LiveTally? Tally { get; set; }

    /// <summary>When the index last handed this state out (least recently used states leave memory first).</summary>
    public long LastUsed { get; set; }

    public long SnapshotSlot { get; private set; } = NoSlot;

    /// <summary>The next LSN when the snapshot was taken; a tombstone at or above it makes the snapshot stale.</summary>
    public long SnapshotStamp { get; private set; }

    /// <summary>Records with a lower LSN belong to a deleted incarnation of the group.</summary>
    public long DeletedLsn { get; private set; }

    public long CompactedThrough => SnapshotSlot;

    /// <summary>The group has a replica's data here: a hard state, a retained entry or a snapshot (not only a tombstone).</summary>
    public bool HoldsData => _hardState is not null || _slots.Count > 0 || SnapshotSlot != NoSlot;

    public bool IsEmpty => _hardState is null && _tombstone is null
        && _slots.Count == 0 && SnapshotSlot == NoSlot;

    public void Apply(in IndexEntry entry, long segment)
    {
        var location = new RecordLocation(entry.Lsn, segment, entry.Length);
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
                    Tally?.Add(_hardState, -1);
                    _hardState = location;
                    Tally?.Add(location, +1);
                }

                break;
            default:
                ApplySlot(entry, location);
                break;
        }
    }

    public bool IsLive(in IndexEntry entry, long segment, bool inOldestSegment)
    {
        var location = new RecordLocation(entry.Lsn, segment, entry.Length);
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
        var old = new RecordLocation(entry.Lsn, from, entry.Length);
        var moved = new RecordLocation(entry.Lsn, to, entry.Length);
        bool relocated = false;
        if (_hardState == old) (_hardState, relocated) = (moved, true);
        if (_tombstone == old) (_tombstone, relocated) = (moved, true);
        var key = new SlotKey(entry.Kind, entry.Slot);
        if (_slots.TryGetValue(key, out RecordLocation current) && current == old)
        {
            _slots.Set(key, moved);
            relocated = true;
        }

        if (relocated)
        {
            Tally?.Add(old, -1);
            Tally?.Add(moved, +1);
        }
    }

    /// <summary>The segment holding the tombstone is gone; nothing of the old incarnation is left on disk.</summary>
    public void ForgetTombstoneIn(long segment)
    {
        if (_tombstone is { } t && t.Segment == segment)
        {
            Tally?.Add(t, -1);
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
        bool had = _slots.TryGetValue(key, out RecordLocation current);
        if (!had || location.Supersedes(current))
        {
            if (had) Tally?.Add(current, -1);
            _slots.Set(key, location);
            Tally?.Add(location, +1);
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
            Tally?.Add(_tombstone, -1);
            _tombstone = location;
            Tally?.Add(location, +1);
        }

        if (location.Lsn == DeletedLsn)
        {
            return;
        }

        DeletedLsn = location.Lsn;
        // Drop only what is older than the tombstone: records of a re-created group may have been seen already.
        if (_hardState?.Lsn < DeletedLsn)
        {
            Tally?.Add(_hardState, -1);
            _hardState = null;
        }

        if (SnapshotStamp <= DeletedLsn)
        {
            SnapshotSlot = NoSlot;
            SnapshotStamp = 0;
        }

        long deleted = DeletedLsn;
        _slots.RemoveWhere((_, location) => location.Lsn < deleted && Dropped(location));
    }

    private void PruneCompactedSlots()
    {
        long through = CompactedThrough;
        _slots.RemoveWhere((key, location) => key.Slot <= through && Dropped(location));
    }

    /// <summary>A retained location is being removed: it no longer counts as live in its segment.</summary>
    private bool Dropped(RecordLocation location)
    {
        Tally?.Add(location, -1);
        return true;
    }
}

namespace OpenReplica.Storage;

/// <summary>
/// Builds a cold group's retention state from disk: its records in every segment (the sealed segments' index files
/// and the head's in-memory index) applied by the same rules recovery uses, then its snapshot. The records found are
/// handed back too, so a read needs no second lookup. Caller holds <see cref="LogState.Sync"/>.
/// </summary>
internal static class ColdGroups
{
    public static GroupState Load(LogState state, string groupId, GroupKey key, bool keepEmpty, out List<SegmentEntry>[] found)
    {
        var group = new GroupState(groupId, key);
        found = new List<SegmentEntry>[state.Segments.Count];
        for (int i = 0; i < state.Segments.Count; i++)
        {
            Segment segment = state.Segments[i];
            found[i] = [];
            segment.Collect(state.FileSystem, key, found[i]);
            foreach (SegmentEntry e in found[i])
            {
                group.Apply(new IndexEntry(e.Lsn, group, e.Kind, e.Slot, e.Offset, e.Length), segment.Sequence);
            }
        }

        if (state.Snapshots.Load(groupId) is { } snapshot)
        {
            // False for a snapshot older than the group's deletion (its file is deleted right after the tombstone).
            group.InstallSnapshot(snapshot.Slot, snapshot.Stamp);
        }

        // Its records were counted live when they were written: from now on the group reports what changes.
        group.Tally = state.Tally;
        if (keepEmpty || !group.IsEmpty)
        {
            // A lookup of a group this log never held must not fill memory with empty states.
            state.Index.Add(group);
        }

        return group;
    }
}

namespace OpenReplica.Storage;

/// <summary>
/// Deletes sealed segments whose records are mostly no longer needed (by the live tally). The segment is read back,
/// each record is judged by its group's retention state (a cold group's is loaded from disk for the occasion and
/// released again), and the still-needed records (a group's latest HardState, accepts above its snapshot, ...) are
/// copied byte for byte, LSN and CRC unchanged, to the head segment and fsynced; only then is the old file deleted
/// and the directory fsynced. A crash in between leaves two copies with the same LSN, which recovery treats as one
/// record. Runs only on the writer thread.
/// </summary>
internal sealed class SegmentReclaimer(LogState state, IFileSystem fs, string directory, LogWriter writer)
{
    /// <summary>Reclaims one segment if one is at most half live; returns whether it did.</summary>
    public bool ReclaimOne()
    {
        Segment? victim = null;
        bool oldest = false;
        lock (state.Sync)
        {
            for (int i = 0; i < state.Segments.Count - 1 && victim is null; i++)
            {
                Segment segment = state.Segments[i];
                // Copying at most half a segment per segment freed bounds write amplification at 2x.
                if (state.Tally[segment.Sequence] * 2 <= segment.Length - SegmentHeader.Size)
                {
                    (victim, oldest) = (segment, i == 0);
                }
            }
        }

        if (victim is null)
        {
            return false;
        }

        // Sealed segments never change: read outside the lock. The scan checks every record's CRC, so corruption is
        // never laundered into a fresh segment by the copy.
        byte[] bytes = ReadSealed(victim);
        ScannedSegment scanned = SegmentScanner.Scan(victim.Sequence, victim.Path, bytes, isLast: false);
        var live = new List<(IndexEntry Entry, GroupKey Key)>();
        var loaded = new List<GroupKey>();
        var groups = new HashSet<GroupState>();
        lock (state.Sync)
        {
            foreach (ScannedRecord record in scanned.Records)
            {
                DecodedRecord h = record.Header;
                var key = GroupKey.Of(h.GroupId);
                if (state.Index.Find(key) is not { } group)
                {
                    group = state.Resident(h.GroupId, key);
                    loaded.Add(key);
                }

                // Pinned at once: loading the next cold group must not push this one out before its records move.
                groups.Add(group);
                state.Index.Pin(key);
                var entry = new IndexEntry(h.Lsn, group, h.Kind, h.Slot, (int)record.Offset, h.Length);
                if (group.IsLive(entry, victim.Sequence, oldest))
                {
                    live.Add((entry, key));
                }
            }
        }

        if (live.Count > 0)
        {
            CarryForward(victim, live, bytes);
        }

        lock (state.Sync)
        {
            state.Segments.Remove(victim);
            state.Tally.Forget(victim.Sequence);
            foreach (GroupState group in groups)
            {
                group.ForgetTombstoneIn(victim.Sequence);
                state.Index.RemoveIfEmpty(group);
            }

            // Groups that were cold before go back to being cold.
            state.Index.Unpin(groups.Select(g => g.Key));
            foreach (GroupKey key in loaded) state.Index.Release(key);
            // Deleted under the lock so a concurrent read never opens a segment that is going away.
            fs.Delete(victim.Path);
            foreach (SegmentIndexFile index in victim.Indexes) fs.Delete(index.Path);
        }

        fs.FlushDirectory(directory);
        return true;
    }

    private byte[] ReadSealed(Segment segment)
    {
        var bytes = new byte[segment.Length];
        using IFile file = fs.OpenRead(segment.Path);
        if (file.Read(bytes, 0) != bytes.Length)
        {
            throw new WalCorruptionException(segment.Path, file.Length, "segment is shorter than its durable length");
        }

        return bytes;
    }

    private void CarryForward(Segment victim, List<(IndexEntry Entry, GroupKey Key)> live, byte[] source)
    {
        int total = live.Sum(e => e.Entry.Length);
        var buffer = new byte[total];
        int position = 0;
        foreach ((IndexEntry entry, _) in live)
        {
            source.AsSpan(entry.Offset, entry.Length).CopyTo(buffer.AsSpan(position));
            position += entry.Length;
        }

        Segment head = writer.EnsureRoom(total);
        long offset = head.Length;
        head.Writer!.Write(buffer, offset);
        head.Writer.Flush();

        lock (state.Sync)
        {
            int recordOffset = (int)offset;
            foreach ((IndexEntry entry, GroupKey key) in live)
            {
                head.Head!.Add(key, new SegmentEntry(entry.Lsn, entry.Kind, entry.Slot, recordOffset, entry.Length));
                entry.Group.Relocate(entry, victim.Sequence, head.Sequence);
                recordOffset += entry.Length;
            }

            head.Length = offset + total;
        }
    }
}

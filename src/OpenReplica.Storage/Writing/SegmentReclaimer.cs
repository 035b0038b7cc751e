namespace OpenReplica.Storage;

/// <summary>
/// Deletes sealed segments whose records are mostly no longer needed. The still-needed records (a group's latest
/// HardState, accepts above its snapshot, ...) are first copied byte for byte, LSN and CRC unchanged, to the head
/// segment and fsynced; only then is the old file deleted and the directory fsynced. A crash in between leaves
/// two copies with the same LSN, which recovery treats as one record. Runs only on the writer thread.
/// </summary>
internal sealed class SegmentReclaimer(LogState state, IFileSystem fs, string directory, LogWriter writer)
{
    /// <summary>Reclaims one segment if one is at most half live; returns whether it did.</summary>
    public bool ReclaimOne()
    {
        Segment? victim = null;
        List<IndexEntry> live = [];
        lock (state.Sync)
        {
            for (int i = 0; i < state.Segments.Count - 1 && victim is null; i++)
            {
                Segment segment = state.Segments[i];
                live = segment.Entries.Where(e => e.Group.IsLive(e, segment.Sequence, inOldestSegment: i == 0)).ToList();
                long liveBytes = live.Sum(e => (long)e.Length);
                // Copying at most half a segment per segment freed bounds write amplification at 2x.
                if (liveBytes * 2 <= segment.Length - SegmentHeader.Size)
                {
                    victim = segment;
                }
            }
        }

        if (victim is null)
        {
            return false;
        }

        if (live.Count > 0)
        {
            CarryForward(victim, live);
        }

        lock (state.Sync)
        {
            state.Segments.Remove(victim);
            foreach (GroupState group in victim.Entries.Select(e => e.Group).Distinct())
            {
                group.ForgetTombstoneIn(victim.Sequence);
                state.Index.RemoveIfEmpty(group);
            }

            // Deleted under the lock so a concurrent ReadAll never opens a segment that is going away.
            fs.Delete(victim.Path);
        }

        fs.FlushDirectory(directory);
        return true;
    }

    private void CarryForward(Segment victim, List<IndexEntry> live)
    {
        int total = live.Sum(e => e.Length);
        var buffer = new byte[total];
        using (IFile source = fs.OpenRead(victim.Path))
        {
            int position = 0;
            foreach (IndexEntry entry in live)
            {
                Span<byte> target = buffer.AsSpan(position, entry.Length);
                if (source.Read(target, entry.Offset) != entry.Length
                    || RecordCodec.TryDecode(target, out DecodedRecord decoded) != DecodeStatus.Ok || decoded.Lsn != entry.Lsn)
                {
                    // Copying a damaged record would launder corruption into a valid-looking segment.
                    throw new WalCorruptionException(victim.Path, entry.Offset, "record changed on disk since it was written");
                }

                position += entry.Length;
            }
        }

        Segment head = writer.EnsureRoom(total);
        long offset = head.Length;
        head.Writer!.Write(buffer, offset);
        head.Writer.Flush();

        lock (state.Sync)
        {
            int recordOffset = (int)offset;
            foreach (IndexEntry entry in live)
            {
                head.Entries.Add(entry with { Offset = recordOffset });
                entry.Group.Relocate(entry, victim.Sequence, head.Sequence);
                recordOffset += entry.Length;
            }

            head.Length = offset + total;
        }
    }
}

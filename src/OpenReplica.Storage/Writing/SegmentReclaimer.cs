namespace OpenReplica.Storage;

/// <summary>
/// Deletes sealed segments whose records are mostly no longer needed (by the live tally). The segment is read back,
/// each record is judged by its group's retention state (a cold group's is loaded from disk for the occasion and
/// released again), and the still-needed records (a group's latest HardState, accepts above its snapshot, ...) are
/// copied byte for byte, LSN and CRC unchanged, to the head segment and made durable; only then is the old file deleted
/// and the directory fsynced. A crash in between leaves two copies with the same LSN, which recovery treats as one
/// record. Runs only on the writer thread.
/// The segment is read and scanned on the thread pool (sealed segments never change), then judged and copied in steps
/// of at most <see cref="WalOptions.ReclaimStepBytes"/> of its records, with the writer's batches between the steps;
/// the copies become durable with the writer's next fsync. Copying half of a 64 MiB segment in one go, with its own
/// fsync, held every append for 1.5 s (`Micro -- wal-reclaim`). Judging a record later than the scan is safe: a record that
/// is not needed never becomes needed again, and one copied just before it stops being needed is only garbage.
/// </summary>
internal sealed class SegmentReclaimer(LogState state, IFileSystem fs, string directory, LogWriter writer, bool readInBackground)
{
    /// <summary>Default bytes of the victim's records judged (and, the live ones, copied) per step (<see cref="WalOptions.ReclaimStepBytes"/>).</summary>
    public const int StepBytes = 1024 * 1024;

    private Job? _job;

    /// <summary>Whether a segment is being reclaimed (read, or its steps not all done).</summary>
    public bool InProgress => _job is not null || Reading is not null;

    /// <summary>Reclaims one segment if one is at most half live, all at once; returns whether it did.</summary>
    public bool ReclaimOne()
    {
        if (!InProgress && !Start()) return false;
        WaitForRead();
        _job ??= TakeRead();
        while (Step(int.MaxValue)) { }
        return true;
    }

    /// <summary>
    /// One step of at most <paramref name="maxBytes"/>: of the segment in progress, or of a new one if one is at most
    /// half live. Returns whether reclamation may have more to do (false: nothing to reclaim).
    /// </summary>
    public bool ReclaimSome(int maxBytes)
    {
        if (!InProgress && !Start()) return false;
        _job ??= TakeRead();
        if (_job is not null) Step(maxBytes);
        return true;
    }

    /// <summary>
    /// Picks a victim and reads it; false when no sealed segment is at most half live. Reading and scanning a segment
    /// (≈ 0.1 s for 64 MiB here) runs on the thread pool unless the writer is manual (the simulator's, which must
    /// stay on one thread): <see cref="Reading"/> until it is done, and the steps start after.
    /// </summary>
    private bool Start()
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
        if (readInBackground) Reading = Task.Run(() => Read(victim, oldest));
        else _job = Read(victim, oldest);
        return true;
    }

    /// <summary>The background read of the next victim, while it runs (the writer waits on it when it has nothing else to do).</summary>
    public Task<Job>? Reading { get; private set; }

    /// <summary>Blocks until the background read, if one runs, is done (its failure is left for <see cref="TakeRead"/>).</summary>
    public void WaitForRead()
    {
        if (Reading is { } reading) ((IAsyncResult)reading).AsyncWaitHandle.WaitOne();
    }

    /// <summary>The read job once its background read is done (its failure is thrown here, on the writer thread); null before.</summary>
    private Job? TakeRead()
    {
        if (Reading is not { IsCompleted: true } reading) return null;
        Reading = null;
        return reading.GetAwaiter().GetResult();
    }

    /// <summary>Sealed segments never change: read outside the lock. The scan checks every record's CRC, so corruption is never laundered into a fresh segment by the copy.</summary>
    private Job Read(Segment victim, bool oldest)
    {
        byte[] bytes = ReadSealed(victim);
        ScannedSegment scanned = SegmentScanner.Scan(victim.Sequence, victim.Path, bytes, isLast: false);
        return new Job(victim, oldest, bytes, scanned.Records);
    }

    /// <summary>Judges and carries forward the next records of the job; returns whether records remain.</summary>
    private bool Step(int maxBytes)
    {
        Job job = _job!;
        var live = new List<(IndexEntry Entry, GroupKey Key)>();
        long judged = 0;
        lock (state.Sync)
        {
            while (job.Next < job.Records.Count && (judged == 0 || judged < maxBytes))
            {
                ScannedRecord record = job.Records[job.Next++];
                DecodedRecord h = record.Header;
                judged += h.Length;
                var key = GroupKey.Of(h.GroupId);
                // Pinned before it is looked up or loaded, and until the segment is done: a state loaded from disk
                // must not be trimmed away at once (pinned groups take the resident bound), and no second state may
                // be built from disk while copies made in an earlier step wait for their old segment's deletion.
                if (job.Pinned.Add(key)) state.Index.Pin(key);
                if (state.Index.Find(key) is not { } group)
                {
                    group = state.Resident(h.GroupId, key);
                    job.Loaded.Add(key);
                }

                job.Groups.Add(group);
                var entry = new IndexEntry(h.Lsn, group, h.Kind, h.Slot, (int)record.Offset, h.Length);
                if (group.IsLive(entry, job.Victim.Sequence, job.Oldest))
                {
                    live.Add((entry, key));
                }
            }
        }

        if (live.Count > 0)
        {
            CarryForward(job.Victim, live, job.Bytes);
        }

        if (job.Next < job.Records.Count) return true;
        Finish(job);
        return false;
    }

    private void Finish(Job job)
    {
        _job = null;
        writer.SyncCopies(state.Head);
        lock (state.Sync)
        {
            state.Segments.Remove(job.Victim);
            state.Tally.Forget(job.Victim.Sequence);
            foreach (GroupState group in job.Groups)
            {
                group.ForgetTombstoneIn(job.Victim.Sequence);
                state.Index.RemoveIfEmpty(group);
            }

            // Groups that were cold before go back to being cold.
            state.Index.Unpin(job.Pinned);
            foreach (GroupKey key in job.Loaded) state.Index.Release(key);
            // Deleted under the lock so a concurrent read never opens a segment that is going away.
            job.Victim.CloseReaders();
            fs.Delete(job.Victim.Path);
            foreach (SegmentIndexFile index in job.Victim.Indexes) fs.Delete(index.Path);
        }

        fs.FlushDirectory(directory);
    }

    /// <summary>A segment being reclaimed: its bytes, its scanned records, and how far the steps got.</summary>
    internal sealed class Job(Segment victim, bool oldest, byte[] bytes, IReadOnlyList<ScannedRecord> records)
    {
        public Segment Victim { get; } = victim;
        public bool Oldest { get; } = oldest;
        public byte[] Bytes { get; } = bytes;
        public IReadOnlyList<ScannedRecord> Records { get; } = records;
        public int Next { get; set; }
        public HashSet<GroupState> Groups { get; } = [];
        public List<GroupKey> Loaded { get; } = [];
        public HashSet<GroupKey> Pinned { get; } = [];
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
        // No fsync per step: the writer's next batch, the head's sealing or the end of this segment's reclamation
        // makes the copies durable, always before the old segment is deleted (a crash before then keeps it).
        writer.HeadHasUnsyncedCopies = true;

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

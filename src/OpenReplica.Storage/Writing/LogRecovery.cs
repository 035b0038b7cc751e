namespace OpenReplica.Storage;

/// <summary>
/// Rebuilds the index on open: scans every segment (a torn tail of the last one is cut off, anything else bad
/// throws <see cref="WalCorruptionException"/>), then applies snapshots, discarding those of deleted groups, and
/// indexes the segments by group; no group's state stays in memory afterwards, only the ids of the groups found
/// (<see cref="LogState.RecoveredGroups"/>, compact).
/// </summary>
internal static class LogRecovery
{
    public static LogState Recover(IFileSystem fs, string directory, SnapshotStore snapshots, int maxResidentGroups, int headIndexEntries)
    {
        fs.CreateDirectory(directory);
        snapshots.DeleteLeftoverTemps();

        List<(long Sequence, string Path)> files = ListSegments(fs, directory);
        // Every group's state is in memory while the segments are replayed (the rules need all of a group's records);
        // once the segments' indexes are written it is dropped, and the log starts with no group resident.
        var index = new RetentionIndex();
        var tally = new LiveTally();
        var segments = new List<Segment>();
        var entries = new List<List<IndexEntry>>();
        long nextLsn = 1;
        ScannedSegment? tornHeader = null;

        for (int i = 0; i < files.Count; i++)
        {
            ScannedSegment scanned = SegmentScanner.Scan(files[i].Sequence, files[i].Path, AtomicFile.ReadAll(fs, files[i].Path), i == files.Count - 1);
            if (scanned.BaseLsn is not { } baseLsn)
            {
                tornHeader = scanned;
                break;
            }

            var segment = new Segment(scanned.Sequence, scanned.Path, baseLsn) { Length = scanned.ValidLength };
            var segmentEntries = new List<IndexEntry>(scanned.Records.Count);
            nextLsn = Math.Max(nextLsn, baseLsn);
            foreach (ScannedRecord record in scanned.Records)
            {
                GroupState group = index.GetOrAdd(record.Header.GroupId);
                group.Tally = tally;
                var entry = new IndexEntry(record.Header.Lsn, group, record.Header.Kind, record.Header.Slot, (int)record.Offset, record.Header.Length);
                segmentEntries.Add(entry);
                group.Apply(entry, segment.Sequence);
                nextLsn = Math.Max(nextLsn, record.Header.Lsn + 1);
            }

            if (scanned.TornAt is not null)
            {
                // Cut the torn tail now so new appends follow intact records; nothing in it was acknowledged.
                using IFile file = fs.Open(scanned.Path, FileMode.Open);
                file.SetLength(scanned.ValidLength);
                file.Flush();
            }

            segments.Add(segment);
            entries.Add(segmentEntries);
        }

        foreach ((string path, SnapshotContent content) in snapshots.LoadAll().ToList())
        {
            GroupState group = index.GetOrAdd(content.GroupId);
            group.Tally = tally;
            nextLsn = Math.Max(nextLsn, content.Stamp);
            if (!group.InstallSnapshot(content.Slot, content.Stamp))
            {
                // Saved before the group was deleted; the deletion's cleanup was interrupted.
                snapshots.DeleteFile(path);
                index.RemoveIfEmpty(group);
            }
        }

        Segment head = tornHeader is not null
            ? CreateSegment(fs, directory, tornHeader.Sequence, nextLsn)
            : segments.Count == 0 ? CreateSegment(fs, directory, 1, nextLsn) : segments[^1];
        if (head.Writer is null)
        {
            head.Writer = fs.Open(head.Path, FileMode.Open);
        }
        else
        {
            segments.Add(head);
            entries.Add([]);
        }

        IndexSegments(fs, directory, segments, entries, headIndexEntries);
        // The groups found are handed to the log's owner (WriteAheadLog.TakeRecoveredGroups), so that it never reads
        // the whole log a second time to learn them.
        var recovered = new GroupIdSet();
        var known = new HashSet<GroupKey>();
        foreach (GroupState group in index.Groups)
        {
            if (group.HoldsData) recovered.Add(group.GroupId);
            known.Add(group.Key);
        }

        return new LogState(segments, new RetentionIndex(maxResidentGroups), tally, nextLsn, fs, snapshots) { RecoveredGroups = recovered, KnownGroups = known };
    }

    /// <summary>
    /// Writes every sealed segment's index file and fills the head's index, each with the records the rules retain
    /// now (a cold group's lookup needs nothing else), and deletes index files left by segments that are gone.
    /// </summary>
    private static void IndexSegments(IFileSystem fs, string directory, List<Segment> segments, List<List<IndexEntry>> entries, int headIndexEntries)
    {
        var current = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < segments.Count; i++)
        {
            Segment segment = segments[i];
            var retained = new List<(GroupKey, SegmentEntry)>();
            foreach (IndexEntry e in entries[i])
            {
                if (e.Group.IsLive(e, segment.Sequence, inOldestSegment: false))
                {
                    retained.Add((e.Group.Key, new SegmentEntry(e.Lsn, e.Kind, e.Slot, e.Offset, e.Length)));
                }
            }

            if (segment == segments[^1] && retained.Count < headIndexEntries)
            {
                foreach ((GroupKey key, SegmentEntry entry) in retained) segment.Head!.Add(key, entry);
                continue;
            }

            // A large head goes to its first index file at once, as the writer would have done.
            bool head = segment == segments[^1];
            if (!head) segment.Head = null;
            segment.Indexes.Add(SegmentIndexFile.Write(fs, head ? SegmentIndexFile.PathFor(segment.Path, 1) : SegmentIndexFile.PathFor(segment.Path), retained));
            current.Add(segment.Indexes[0].Path);
        }

        foreach (string stale in fs.EnumerateFiles(directory, SegmentIndexFile.Pattern).Where(p => !current.Contains(p)).ToList())
        {
            fs.Delete(stale);
        }
    }

    /// <summary>Creates a segment with its header durable and its directory entry durable, before any record goes in.</summary>
    public static Segment CreateSegment(IFileSystem fs, string directory, long sequence, long baseLsn)
    {
        string path = Path.Combine(directory, SegmentName.Format(sequence));
        IFile file = fs.Open(path, FileMode.Create);
        try
        {
            file.Write(SegmentHeader.Create(baseLsn), 0);
            file.Flush();
            fs.FlushDirectory(directory);
        }
        catch
        {
            file.Dispose();
            throw;
        }

        return new Segment(sequence, path, baseLsn) { Length = SegmentHeader.Size, Writer = file };
    }

    public static List<(long Sequence, string Path)> ListSegments(IFileSystem fs, string directory)
    {
        var list = new List<(long, string)>();
        foreach (string path in fs.EnumerateFiles(directory, SegmentName.Pattern))
        {
            if (SegmentName.TryParse(path, out long sequence))
            {
                list.Add((sequence, path));
            }
        }

        list.Sort((a, b) => a.Item1.CompareTo(b.Item1));
        return list;
    }
}

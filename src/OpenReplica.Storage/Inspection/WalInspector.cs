namespace OpenReplica.Storage;

/// <summary>
/// Read-only examination of a log directory for tools (<c>openreplica wal inspect|verify</c>). It never modifies
/// files, so it is safe on the directory of a stopped silo and does not cut a torn tail.
/// </summary>
public static class WalInspector
{
    /// <summary>Reads every segment and snapshot of the log in <paramref name="directory"/> without changing anything and describes it.</summary>
    public static WalInspection Inspect(string directory) => Inspect(directory, null);

    /// <summary>Summarizes segments and groups; throws <see cref="WalCorruptionException"/> on corruption.</summary>
    public static WalInspection Inspect(string directory, IFileSystem? fileSystem)
    {
        (IFileSystem fs, string full) = Prepare(directory, fileSystem);
        var index = new RetentionIndex();
        var segments = new List<WalSegmentInfo>();
        var scans = new List<ScannedSegment>();
        WalFileOffset? torn = null;
        List<(long Sequence, string Path)> files = LogRecovery.ListSegments(fs, full);
        for (int i = 0; i < files.Count; i++)
        {
            ScannedSegment scan = SegmentScanner.Scan(files[i].Sequence, files[i].Path, AtomicFile.ReadAll(fs, files[i].Path), i == files.Count - 1);
            scans.Add(scan);
            if (scan.TornAt is { } at)
            {
                torn = new WalFileOffset(scan.Path, at);
            }

            segments.Add(new WalSegmentInfo(
                Path.GetFileName(scan.Path), scan.FileLength, scan.Records.Count,
                scan.Records.Count > 0 ? scan.Records.Min(r => r.Header.Lsn) : null,
                scan.Records.Count > 0 ? scan.Records.Max(r => r.Header.Lsn) : null));
        }

        var builders = new Dictionary<string, GroupSummaryBuilder>(StringComparer.Ordinal);
        var entries = new List<(IndexEntry Entry, long Segment, bool Oldest)>();
        for (int i = 0; i < scans.Count; i++)
        {
            foreach (ScannedRecord record in scans[i].Records)
            {
                DecodedRecord h = record.Header;
                GroupState group = index.GetOrAdd(h.GroupId);
                var entry = new IndexEntry(h.Lsn, group, h.Kind, h.Slot, (int)record.Offset, h.Length);
                group.Apply(entry, scans[i].Sequence);
                entries.Add((entry, scans[i].Sequence, i == 0));
                if (!builders.TryGetValue(h.GroupId, out GroupSummaryBuilder? builder))
                {
                    builders[h.GroupId] = builder = new GroupSummaryBuilder(h.GroupId);
                }

                builder.Add(h, Path.GetFileName(scans[i].Path));
            }
        }

        foreach ((string _, SnapshotContent content) in new SnapshotStore(fs, full).LoadAll())
        {
            if (index.GetOrAdd(content.GroupId).InstallSnapshot(content.Slot, content.Stamp))
            {
                if (!builders.TryGetValue(content.GroupId, out GroupSummaryBuilder? builder))
                {
                    builders[content.GroupId] = builder = new GroupSummaryBuilder(content.GroupId);
                }

                builder.SnapshotSlot = content.Slot;
            }
        }

        foreach ((IndexEntry entry, long segment, bool oldest) in entries)
        {
            if (entry.Kind != WalRecordKind.GroupDeleted && entry.Group.IsLive(entry, segment, oldest))
            {
                builders[entry.Group.GroupId].Retained++;
            }
        }

        return new WalInspection(full, segments, builders.Values.OrderBy(b => b.GroupId, StringComparer.Ordinal).Select(b => b.Build()).ToList(), torn);
    }

    /// <summary>Checks every record's checksum and framing in <paramref name="directory"/> without changing anything; reports a torn tail apart from corruption.</summary>
    public static WalVerification Verify(string directory) => Verify(directory, null);

    /// <summary>Checks every record and snapshot checksum; reports the first corruption instead of throwing.</summary>
    public static WalVerification Verify(string directory, IFileSystem? fileSystem)
    {
        (IFileSystem fs, string full) = Prepare(directory, fileSystem);
        List<(long Sequence, string Path)> files = LogRecovery.ListSegments(fs, full);
        long records = 0;
        WalFileOffset? torn = null;
        try
        {
            for (int i = 0; i < files.Count; i++)
            {
                ScannedSegment scan = SegmentScanner.Scan(files[i].Sequence, files[i].Path, AtomicFile.ReadAll(fs, files[i].Path), i == files.Count - 1);
                records += scan.Records.Count;
                if (scan.TornAt is { } at)
                {
                    torn = new WalFileOffset(scan.Path, at);
                }
            }

            _ = new SnapshotStore(fs, full).LoadAll().Count();
        }
        catch (WalCorruptionException ex)
        {
            return new WalVerification(false, new WalFileOffset(ex.File, ex.Offset), ex.Reason, torn, files.Count, records);
        }

        return new WalVerification(true, null, null, torn, files.Count, records);
    }

    private static (IFileSystem Fs, string Directory) Prepare(string directory, IFileSystem? fileSystem)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        string full = Path.GetFullPath(directory);
        if (fileSystem is null && !System.IO.Directory.Exists(full))
        {
            throw new DirectoryNotFoundException($"WAL directory '{full}' does not exist.");
        }

        return (fileSystem ?? PhysicalFileSystem.Instance, full);
    }

    private sealed class GroupSummaryBuilder(string groupId)
    {
        private readonly Dictionary<WalRecordKind, int> _byKind = [];
        private readonly List<string> _segments = [];
        private int _records;
        private long? _minSlot;
        private long? _maxSlot;
        private long _maxRound;
        private int _maxReplica;
        private long _bytes;

        public string GroupId { get; } = groupId;

        public int Retained { get; set; }

        public long? SnapshotSlot { get; set; }

        public void Add(in DecodedRecord h, string segment)
        {
            _records++;
            _bytes += h.Length;
            _byKind[h.Kind] = _byKind.GetValueOrDefault(h.Kind) + 1;
            if (_segments.Count == 0 || _segments[^1] != segment)
            {
                _segments.Add(segment);
            }

            // Only log entries carry a meaningful slot; a HardState's or tombstone's slot field is not a position.
            if (h.Kind is WalRecordKind.Accept)
            {
                _minSlot = _minSlot is null ? h.Slot : Math.Min(_minSlot.Value, h.Slot);
                _maxSlot = _maxSlot is null ? h.Slot : Math.Max(_maxSlot.Value, h.Slot);
            }

            if (h.BallotRound > _maxRound || (h.BallotRound == _maxRound && h.BallotReplica > _maxReplica))
            {
                _maxRound = h.BallotRound;
                _maxReplica = h.BallotReplica;
            }
        }

        public WalGroupInfo Build() => new(
            GroupId, _records, Retained, _byKind, _minSlot, _maxSlot, _maxRound, _maxReplica, _bytes, SnapshotSlot, _segments);
    }
}

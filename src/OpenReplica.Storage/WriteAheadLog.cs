using System.Text;
using System.Threading.Channels;

namespace OpenReplica.Storage;

/// <summary>
/// The durable, per-silo log shared by all groups: segment files, one writer doing group commit, per-group
/// snapshots, reclamation of old segments, and recovery on <see cref="Open"/>. See docs/storage.md.
/// </summary>
public sealed class WriteAheadLog : IReplicaLog
{
    private readonly WalOptions _options;
    private readonly LogState _state;
    private readonly SnapshotStore _snapshots;
    private readonly Channel<AppendRequest> _queue;
    private readonly LogWriter _writer;
    // Snapshot saves of one group are serialized; striped by group key so that no lock per group ever lives on.
    private readonly SemaphoreSlim[] _snapshotLocks = [.. Enumerable.Range(0, 64).Select(_ => new SemaphoreSlim(1, 1))];
    private int _disposed;

    private WriteAheadLog(WalOptions options, IFileSystem fs, SnapshotStore snapshots, LogState state)
    {
        _options = options;
        _snapshots = snapshots;
        _state = state;
        _queue = Channel.CreateBounded<AppendRequest>(new BoundedChannelOptions(options.QueueCapacity)
        {
            SingleReader = true,
            FullMode = BoundedChannelFullMode.Wait,
        });
        ResidentGroupsAtOpen = state.Index.Count; // before the writer starts: its first reclamation pass loads groups
        _writer = new LogWriter(state, fs, options.Directory, options, _queue.Reader);
        _writer.Start();
    }

    /// <summary>Groups recovery left resident, read before the writer's first pass (tests: a restart starts with none).</summary>
    internal int ResidentGroupsAtOpen { get; }

    /// <summary>
    /// Opens (or creates) the log in <see cref="WalOptions.Directory"/> and recovers it. Throws
    /// <see cref="WalCorruptionException"/> if acknowledged data is damaged; a torn tail is cut off silently.
    /// </summary>
    public static WriteAheadLog Open(WalOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        WalOptions copy = options.Clone();
        copy.Directory = Path.GetFullPath(copy.Directory);
        IFileSystem fs = copy.FileSystem ?? PhysicalFileSystem.Instance;
        var snapshots = new SnapshotStore(fs, copy.Directory);
        LogState state = LogRecovery.Recover(fs, copy.Directory, snapshots, copy.MaxResidentGroups, copy.HeadIndexEntries);
        return new WriteAheadLog(copy, fs, snapshots, state);
    }

    /// <summary>Why the log stopped accepting appends, or null while it works (see <see cref="WalFailedException"/>).</summary>
    public WalFailedException? Failure => _writer.Failure;

    /// <inheritdoc/>
    public ValueTask AppendAsync(WalRecord record, CancellationToken ct = default) =>
        Enqueue(new AppendRequest([Encode(record)]), ct);

    /// <inheritdoc/>
    public ValueTask AppendAsync(IReadOnlyList<WalRecord> records, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(records);
        if (records.Count == 0)
        {
            return ValueTask.CompletedTask;
        }

        var encoded = new EncodedRecord[records.Count];
        for (int i = 0; i < encoded.Length; i++)
        {
            encoded[i] = Encode(records[i]);
        }

        return Enqueue(new AppendRequest(encoded), ct);
    }

    /// <inheritdoc/>
    public IEnumerable<WalRecord> ReadAll() => Read(null);

    /// <inheritdoc/>
    public IEnumerable<WalRecord> ReadAll(string groupId)
    {
        ArgumentException.ThrowIfNullOrEmpty(groupId);
        return Read(groupId);
    }

    /// <inheritdoc/>
    public GroupIdSet TakeRecoveredGroups()
    {
        lock (_state.Sync)
        {
            GroupIdSet recovered = _state.RecoveredGroups ?? new GroupIdSet();
            _state.RecoveredGroups = null;
            return recovered;
        }
    }

    /// <inheritdoc/>
    public async ValueTask SaveSnapshotAsync(string groupId, long slot, ReadOnlyMemory<byte> snapshot, CancellationToken ct = default)
    {
        ValidateGroupId(groupId);
        ThrowIfUnusable();
        var key = GroupKey.Of(groupId);
        SemaphoreSlim gate = SnapshotLock(key);
        // On the caller's context, like the deletion that may hold this lock (the simulator stays on its thread).
        await gate.WaitAsync(ct).ConfigureAwait(true);
        try
        {
            // Taken before writing: a deletion that completes later gets a higher LSN and so outranks this snapshot.
            long stamp = _state.NextLsn;
            lock (_state.Sync)
            {
                RefuseOlderSnapshot(groupId, key, slot);
            }

            _snapshots.Save(groupId, slot, stamp, snapshot.Span);
            InstallSaved(groupId, key, slot, stamp);
            WakeForReclaim();
        }
        finally
        {
            gate.Release();
        }
    }

    /// <inheritdoc/>
    /// <remarks>
    /// Every new file is fsynced before any is renamed and the renames share one directory fsync: N snapshots cost
    /// N + 1 fsyncs instead of 2N. An engine step that carries many groups' snapshots (Orleans deactivating many grains
    /// at once, a log memory budget sweep) waits for them all; `Micro -- wal-snapshots` measures the difference.
    /// </remarks>
    public async ValueTask SaveSnapshotsAsync(IReadOnlyList<SnapshotSave> snapshots, CancellationToken ct = default)
    {
        ArgumentNullException.ThrowIfNull(snapshots);
        if (snapshots.Count == 0)
        {
            return;
        }

        if (snapshots.Count == 1)
        {
            await SaveSnapshotAsync(snapshots[0].GroupId, snapshots[0].Slot, snapshots[0].Snapshot, ct).ConfigureAwait(true);
            return;
        }

        var keys = new GroupKey[snapshots.Count];
        var seen = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < snapshots.Count; i++)
        {
            string groupId = snapshots[i].GroupId;
            ValidateGroupId(groupId);
            if (!seen.Add(groupId))
            {
                throw new ArgumentException($"Group '{groupId}' appears twice in one batch of snapshots; save its snapshots one after the other.", nameof(snapshots));
            }

            keys[i] = GroupKey.Of(groupId);
        }

        ThrowIfUnusable();
        // The groups' snapshot locks, taken in stripe order so that two batches can never wait for each other in a cycle.
        int[] stripes = [.. keys.Select(StripeOf).Distinct().Order()];
        int taken = 0;
        try
        {
            foreach (int stripe in stripes)
            {
                await _snapshotLocks[stripe].WaitAsync(ct).ConfigureAwait(true);
                taken++;
            }

            long stamp = _state.NextLsn;
            lock (_state.Sync)
            {
                // All checked before any file is written, so a refused batch changes nothing.
                for (int i = 0; i < snapshots.Count; i++)
                {
                    RefuseOlderSnapshot(snapshots[i].GroupId, keys[i], snapshots[i].Slot);
                }
            }

            _snapshots.SaveAll(snapshots, stamp);
            for (int i = 0; i < snapshots.Count; i++)
            {
                InstallSaved(snapshots[i].GroupId, keys[i], snapshots[i].Slot, stamp);
            }

            WakeForReclaim();
        }
        finally
        {
            for (int i = 0; i < taken; i++)
            {
                _snapshotLocks[stripes[i]].Release();
            }
        }
    }

    /// <summary>Records up to a newer snapshot may already be gone; an older snapshot would leave a hole. Under <c>_state.Sync</c>.</summary>
    private void RefuseOlderSnapshot(string groupId, GroupKey key, long slot)
    {
        long current = _state.Resident(groupId, key).SnapshotSlot;
        if (slot < current)
        {
            throw new InvalidOperationException($"Group '{groupId}' already has a snapshot at slot {current}; cannot save one at slot {slot}.");
        }
    }

    /// <summary>Makes a saved file the group's snapshot, or removes it if a deletion stamped after it outranks it.</summary>
    private void InstallSaved(string groupId, GroupKey key, long slot, long stamp)
    {
        bool installed;
        lock (_state.Sync)
        {
            installed = _state.Resident(groupId, key).InstallSnapshot(slot, stamp);
        }

        if (!installed)
        {
            _snapshots.Delete(groupId);
        }
    }

    /// <summary>The covered records are reclaimable now: wake an idle writer (if the queue is full it is busy anyway).</summary>
    private void WakeForReclaim()
    {
        _writer.RequestReclaim();
        _queue.Writer.TryWrite(new AppendRequest([]));
    }

    /// <inheritdoc/>
    public (long Slot, byte[] Data)? LoadSnapshot(string groupId)
    {
        ValidateGroupId(groupId);
        SnapshotContent? content = _snapshots.Load(groupId);
        return content is null ? null : (content.Slot, content.Data);
    }

    /// <inheritdoc/>
    public async ValueTask DeleteGroupAsync(string groupId, CancellationToken ct = default)
    {
        ValidateGroupId(groupId);
        // The durable tombstone is what makes the deletion stick; the snapshot file is removed afterwards and
        // recovery discards any snapshot older than the tombstone if a crash comes in between.
        var tombstone = new WalRecord(groupId, WalRecordKind.GroupDeleted, 0, 0, 0, ReadOnlyMemory<byte>.Empty);
        // The group's snapshot lock is held from before the tombstone until its file is gone, so a snapshot saved
        // meanwhile comes either wholly before the deletion (stamped below the tombstone: discarded with the group)
        // or wholly after it (stamped above it: kept, file and index alike). Taken only after the tombstone, a save
        // in between got installed in the index and then lost its file to this deletion, and the index went on
        // refusing older snapshots that no file backed (engine seed 8860).
        // Awaits on the caller's context: the engine simulator completes appends from its one thread and must get the
        // rest of the deletion back there (a silo has no context, so it continues on the thread pool).
        SemaphoreSlim gate = SnapshotLock(GroupKey.Of(groupId));
        await gate.WaitAsync(ct).ConfigureAwait(true);
        try
        {
            await Enqueue(new AppendRequest([EncodeUnchecked(tombstone)]), ct).ConfigureAwait(true);
            _snapshots.Delete(groupId);
        }
        finally
        {
            gate.Release();
        }
    }

    /// <inheritdoc/>
    public void ReleaseGroup(string groupId)
    {
        ValidateGroupId(groupId);
        lock (_state.Sync)
        {
            _state.Index.Release(GroupKey.Of(groupId));
        }
    }

    /// <summary>Groups whose retention state is in memory now (the working set; at most <see cref="WalOptions.MaxResidentGroups"/>).</summary>
    public int ResidentGroups
    {
        get
        {
            lock (_state.Sync)
            {
                return _state.Index.Count;
            }
        }
    }

    /// <summary>Whether the group's retention state is in memory now (tests).</summary>
    internal bool IsResident(string groupId)
    {
        lock (_state.Sync)
        {
            return _state.Index.Find(GroupKey.Of(groupId)) is not null;
        }
    }

    /// <inheritdoc/>
    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0)
        {
            return;
        }

        // The writer drains what is queued, then exits and closes the head segment.
        _queue.Writer.TryComplete();
        await _writer.Exited.ConfigureAwait(false);
        lock (_state.Sync)
        {
            foreach (Segment segment in _state.Segments) segment.CloseReaders();
        }
    }

    /// <summary>The simulator's writer step (<see cref="WalOptions.ManualWriter"/>): one batch written and fsynced, if any waits.</summary>
    internal bool RunWriterOnce() => _writer.RunOnce();

    /// <summary>Whether the writer is in the middle of reclaiming a segment.</summary>
    internal bool ReclaimInProgress => _writer.ReclaimInProgress;

    /// <summary>Reclaims every reclaimable segment now (normally done in the background).</summary>
    internal ValueTask CompactAsync() => Enqueue(new AppendRequest([], reclaim: true), CancellationToken.None);

    internal IReadOnlyList<string> IndexFilePaths()
    {
        lock (_state.Sync)
        {
            return _state.Segments.SelectMany(s => s.Indexes).Select(i => i.Path).ToList();
        }
    }

    internal IReadOnlyList<string> SegmentPaths()
    {
        lock (_state.Sync)
        {
            return _state.Segments.Select(s => s.Path).ToList();
        }
    }

    private SemaphoreSlim SnapshotLock(GroupKey key) => _snapshotLocks[StripeOf(key)];

    private int StripeOf(GroupKey key) => (int)(key.Low % (ulong)_snapshotLocks.Length);

    private ValueTask Enqueue(AppendRequest request, CancellationToken ct)
    {
        // A failed or disposed log faults the returned task rather than throwing here: callers that start many
        // appends and await them later (the engine's step does) see every one fail the same way, whether it was
        // queued before or after the failure.
        if (Unusable() is { } unusable)
        {
            return ValueTask.FromException(unusable);
        }

        if (_queue.Writer.TryWrite(request))
        {
            return Await(request, ct);
        }

        return EnqueueSlow(request, ct);
    }

    private async ValueTask EnqueueSlow(AppendRequest request, CancellationToken ct)
    {
        try
        {
            // Queue full: wait for room (back-pressure on callers rather than unbounded memory).
            await _queue.Writer.WriteAsync(request, ct).ConfigureAwait(false);
        }
        catch (ChannelClosedException)
        {
            throw new ObjectDisposedException(nameof(WriteAheadLog));
        }

        await Await(request, ct).ConfigureAwait(false);
    }

    private static ValueTask Await(AppendRequest request, CancellationToken ct) =>
        new(ct.CanBeCanceled ? request.Completion.Task.WaitAsync(ct) : request.Completion.Task);

    private void ThrowIfUnusable()
    {
        if (Unusable() is { } unusable)
        {
            throw unusable;
        }
    }

    private Exception? Unusable()
    {
        if (Volatile.Read(ref _disposed) != 0)
        {
            return new ObjectDisposedException(nameof(WriteAheadLog));
        }

        // A new exception per refused call (its own stack), saying what the failure said: a full disk, a cut-off batch.
        return _writer.Failure is { } failure
            ? new WalFailedException(failure.Message, failure.InnerException) { DiskFull = failure.DiskFull, TailDiscarded = failure.TailDiscarded }
            : null;
    }

    private EncodedRecord Encode(in WalRecord record)
    {
        ValidateGroupId(record.GroupId);
        if (record.Kind == WalRecordKind.GroupDeleted || !Enum.IsDefined(record.Kind))
        {
            throw new ArgumentException($"Record kind {record.Kind} cannot be appended (use DeleteGroupAsync to delete a group).", nameof(record));
        }

        return EncodeUnchecked(record);
    }

    private EncodedRecord EncodeUnchecked(in WalRecord record)
    {
        byte[] bytes = RecordCodec.Encode(record);
        if (bytes.Length > _options.SegmentBytes - SegmentHeader.Size)
        {
            throw new ArgumentException(
                $"Record of {bytes.Length} bytes does not fit in a segment of WalOptions.SegmentBytes = {_options.SegmentBytes}.", nameof(record));
        }

        return new EncodedRecord(bytes, record.GroupId, GroupKey.Of(record.GroupId), record.Kind, record.Slot);
    }

    internal static void ValidateGroupId(string groupId)
    {
        ArgumentException.ThrowIfNullOrEmpty(groupId);
        if (Encoding.UTF8.GetByteCount(groupId) > RecordCodec.MaxGroupIdBytes)
        {
            throw new ArgumentException($"Group id is longer than {RecordCodec.MaxGroupIdBytes} UTF-8 bytes.", nameof(groupId));
        }
    }

    private List<WalRecord> Read(string? groupId)
    {
        var result = new List<(long Lsn, WalRecord Record)>();
        lock (_state.Sync)
        {
            if (groupId is null)
            {
                ReadEveryGroup(result);
            }
            else
            {
                ReadGroup(groupId, result);
            }
        }

        result.Sort((a, b) => a.Lsn.CompareTo(b.Lsn));
        return result.ConvertAll(r => r.Record);
    }

    /// <summary>One group's retained records: its entries are looked up by key, its state loaded if it was cold.</summary>
    private void ReadGroup(string groupId, List<(long, WalRecord)> result)
    {
        var key = GroupKey.Of(groupId);
        GroupState? group = _state.Index.Find(key);
        if (group is null && !_state.KnownGroups.Contains(key)) return; // never written here: nothing on disk
        List<SegmentEntry>[] found;
        if (group is null)
        {
            group = ColdGroups.Load(_state, groupId, key, keepEmpty: false, out found);
        }
        else
        {
            found = new List<SegmentEntry>[_state.Segments.Count];
            for (int i = 0; i < found.Length; i++)
            {
                found[i] = [];
                _state.Segments[i].Collect(_state.FileSystem, key, found[i]);
            }
        }

        for (int i = 0; i < _state.Segments.Count; i++)
        {
            Segment segment = _state.Segments[i];
            List<IndexEntry> live = found[i]
                .Select(e => new IndexEntry(e.Lsn, group, e.Kind, e.Slot, e.Offset, e.Length))
                .Where(e => e.Kind != WalRecordKind.GroupDeleted && group.IsLive(e, segment.Sequence, i == 0))
                .ToList();
            if (live.Count > 0)
            {
                ReadRecords(segment, live, result);
            }
        }
    }

    /// <summary>
    /// Every group's retained records (start-up, tools): the segments are read whole and judged by a temporary index
    /// of every group, as recovery does; the resident index is left as it is.
    /// </summary>
    private void ReadEveryGroup(List<(long, WalRecord)> result)
    {
        var index = new RetentionIndex();
        var scanned = new List<(Segment Segment, byte[] Bytes, List<IndexEntry> Entries)>();
        foreach (Segment segment in _state.Segments)
        {
            var bytes = new byte[segment.Length];
            using (IFile file = _state.FileSystem.OpenRead(segment.Path))
            {
                if (file.Read(bytes, 0) != bytes.Length)
                {
                    throw new WalCorruptionException(segment.Path, file.Length, "segment is shorter than its durable length");
                }
            }

            var entries = new List<IndexEntry>();
            foreach (ScannedRecord record in SegmentScanner.Scan(segment.Sequence, segment.Path, bytes, isLast: false).Records)
            {
                DecodedRecord h = record.Header;
                GroupState group = index.GetOrAdd(h.GroupId);
                var entry = new IndexEntry(h.Lsn, group, h.Kind, h.Slot, (int)record.Offset, h.Length);
                entries.Add(entry);
                group.Apply(entry, segment.Sequence);
            }

            scanned.Add((segment, bytes, entries));
        }

        foreach ((_, SnapshotContent content) in _snapshots.LoadAll())
        {
            index.GetOrAdd(content.GroupId).InstallSnapshot(content.Slot, content.Stamp);
        }

        for (int i = 0; i < scanned.Count; i++)
        {
            (Segment segment, byte[] bytes, List<IndexEntry> entries) = scanned[i];
            foreach (IndexEntry entry in entries)
            {
                if (entry.Kind != WalRecordKind.GroupDeleted && entry.Group.IsLive(entry, segment.Sequence, i == 0))
                {
                    Decode(segment, entry, bytes.AsSpan(entry.Offset, entry.Length), result);
                }
            }
        }
    }

    // A group's records lie scattered through a segment that every group appends to: they are read in runs of nearby
    // records, one read each, and never the stretch between far-apart ones. Reading from the first record to the last
    // (what a group with many records did) read tens of MB of other groups' records and allocated as much per rebuild,
    // thousands of times in a rolling restart (session 29).
    private const int MaxReadGap = 16 * 1024;
    private const int MaxReadRun = 1024 * 1024;

    private void ReadRecords(Segment segment, List<IndexEntry> live, List<(long, WalRecord)> result)
    {
        IFileSystem fs = _state.FileSystem;
        CachedReader file = segment.Reader;
        live.Sort((a, b) => a.Offset.CompareTo(b.Offset));
        for (int first = 0; first < live.Count;)
        {
            int start = live[first].Offset;
            int end = start + live[first].Length;
            int next = first + 1;
            while (next < live.Count && live[next].Offset - end <= MaxReadGap && live[next].Offset + live[next].Length - start <= MaxReadRun)
            {
                end = Math.Max(end, live[next].Offset + live[next].Length);
                next++;
            }

            var buffer = new byte[end - start];
            if (file.Read(fs, buffer, start) != buffer.Length)
            {
                throw new WalCorruptionException(segment.Path, file.Length(fs), "segment is shorter than its durable length");
            }

            for (int i = first; i < next; i++)
            {
                Decode(segment, live[i], buffer.AsSpan(live[i].Offset - start, live[i].Length), result);
            }

            first = next;
        }
    }

    private static void Decode(Segment segment, IndexEntry entry, ReadOnlySpan<byte> bytes, List<(long, WalRecord)> result)
    {
        if (RecordCodec.TryDecode(bytes, out DecodedRecord decoded) != DecodeStatus.Ok || decoded.Lsn != entry.Lsn
            || decoded.GroupId != entry.Group.GroupId)
        {
            throw new WalCorruptionException(segment.Path, entry.Offset, "record changed on disk since it was written");
        }

        result.Add((decoded.Lsn, decoded.ToRecord(entry.Group.GroupId, bytes)));
    }
}

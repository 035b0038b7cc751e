using System.Diagnostics;
using System.Threading.Channels;

namespace OpenReplica.Storage;

/// <summary>
/// The single writer. It drains the queue into a batch (all groups together), gives the records their LSNs,
/// writes the batch with one write and makes it durable with one fsync, and only then publishes the records to
/// the index and completes the callers (group commit). Between batches it rotates segments and reclaims old ones.
/// It runs on its own thread because fsync blocks, and a blocked thread-pool thread would slow everything else.
/// </summary>
internal sealed class LogWriter
{
    // Background reclamation scans the whole index; scanning at most this often bounds its cost under load.
    private static readonly TimeSpan ReclaimScanInterval = TimeSpan.FromMilliseconds(100);

    private readonly LogState _state;
    private readonly IFileSystem _fs;
    private readonly string _directory;
    private readonly WalOptions _options;
    private readonly ChannelReader<AppendRequest> _queue;
    private readonly SegmentReclaimer _reclaimer;
    private readonly Thread _thread;
    private readonly TaskCompletionSource _exited = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly List<AppendRequest> _batch = [];
    private readonly Stopwatch _sinceReclaimScan = Stopwatch.StartNew();
    private byte[] _buffer = new byte[64 * 1024];
    private AppendRequest? _carried;
    private volatile WalFailedException? _failure;
    private volatile bool _reclaimPending = true;

    public LogWriter(LogState state, IFileSystem fs, string directory, WalOptions options, ChannelReader<AppendRequest> queue)
    {
        _state = state;
        _fs = fs;
        _directory = directory;
        _options = options;
        _queue = queue;
        _reclaimer = new SegmentReclaimer(state, fs, directory, this, readInBackground: !options.ManualWriter);
        _thread = new Thread(Run) { IsBackground = true, Name = "OpenReplica WAL writer" };
    }

    public WalFailedException? Failure => _failure;

    public Task Exited => _exited.Task;

    public void Start()
    {
        if (!_options.ManualWriter) _thread.Start();
    }

    /// <summary>
    /// Manual mode (<see cref="WalOptions.ManualWriter"/>): writes and fsyncs what is queued as one batch (or
    /// reclaims when nothing is), on the caller's thread. Returns whether a batch was written.
    /// </summary>
    public bool RunOnce()
    {
        if (_carried is null && !_queue.TryPeek(out _))
        {
            if (_reclaimPending && _failure is null) Guard(() => ReclaimInBackground(force: true));
            return false;
        }
        if (!NextBatch()) return false;
        ProcessBatch();
        return true;
    }

    /// <summary>
    /// Reclamation's copies were written to the head without an fsync of their own: the next batch's fsync, the
    /// head's sealing, or the reclamation's end (before it deletes the old segment) makes them durable.
    /// </summary>
    internal bool HeadHasUnsyncedCopies { get; set; }

    /// <summary>Makes reclamation's copies in <paramref name="head"/> durable, if it holds any not yet fsynced.</summary>
    internal void SyncCopies(Segment head)
    {
        if (!HeadHasUnsyncedCopies) return;
        head.Writer?.Flush();
        HeadHasUnsyncedCopies = false;
    }

    /// <summary>Whether a segment's reclamation is under way (for tests: it takes several passes).</summary>
    internal bool ReclaimInProgress => _reclaimer.InProgress;

    /// <summary>Asks for a reclamation pass soon (after a snapshot, deletion or rotation).</summary>
    public void RequestReclaim() => _reclaimPending = true;

    private void Run()
    {
        try
        {
            while (NextBatch())
            {
                ProcessBatch();
            }
        }
        finally
        {
            _state.Head.Writer?.Dispose();
            _state.Head.Writer = null;
            _exited.TrySetResult();
        }
    }

    /// <summary>Fills <see cref="_batch"/>; returns false when the queue is closed and drained.</summary>
    private bool NextBatch()
    {
        _batch.Clear();
        AppendRequest? first = _carried;
        _carried = null;
        while (first is null && !_queue.TryRead(out first))
        {
            if (_reclaimPending && _failure is null)
            {
                if (_reclaimer.Reading is { IsCompleted: false } reading)
                {
                    // The next victim is still being read on the thread pool: wait for it or for an append.
                    Task.WaitAny(reading, _queue.WaitToReadAsync().AsTask());
                    if (_queue.Completion.IsCompleted) _reclaimer.WaitForRead();
                    continue;
                }

                // Idle: a good moment to reclaim, nobody is waiting for an fsync.
                Guard(() => ReclaimInBackground(force: true));
                continue;
            }

            if (!_queue.WaitToReadAsync().AsTask().GetAwaiter().GetResult())
            {
                return false;
            }
        }

        _batch.Add(first);
        int records = first.Records.Length;
        long bytes = first.Bytes;
        long room = _options.SegmentBytes - _state.Head.Length;
        while (_queue.TryRead(out AppendRequest? next))
        {
            // Requests are never split, so a multi-record append is written by one write; the batch stops
            // before a limit would be crossed and the request waits for the next batch.
            if (records + next.Records.Length > _options.MaxBatchRecords
                || bytes + next.Bytes > _options.MaxBatchBytes
                || (bytes + next.Bytes > room && bytes > 0))
            {
                _carried = next;
                break;
            }

            _batch.Add(next);
            records += next.Records.Length;
            bytes += next.Bytes;
        }

        return true;
    }

    private void ProcessBatch()
    {
        if (_failure is null)
        {
            Guard(WriteBatch);
        }

        if (_failure is { } failure)
        {
            foreach (AppendRequest request in _batch)
            {
                request.Completion.TrySetException(failure);
            }

            return;
        }

        bool reclaimNow = false;
        foreach (AppendRequest request in _batch)
        {
            reclaimNow |= request.Reclaim;
        }

        if (reclaimNow)
        {
            Guard(() => { while (_reclaimer.ReclaimOne()) { } });
        }
        else if (_reclaimPending)
        {
            Guard(() => ReclaimInBackground(force: false));
        }

        foreach (AppendRequest request in _batch)
        {
            if (request.Reclaim && _failure is { } f)
            {
                request.Completion.TrySetException(f);
            }
            else
            {
                request.Completion.TrySetResult();
            }
        }
    }

    private void WriteBatch()
    {
        int total = 0;
        foreach (AppendRequest request in _batch)
        {
            total += request.Bytes;
        }

        if (total == 0)
        {
            return;
        }

        Segment head = EnsureRoom(total);
        lock (_state.Sync)
        {
            // Cold groups are loaded from disk now, before the write: a failed read then fails only this batch.
            foreach (AppendRequest request in _batch)
            {
                foreach (EncodedRecord record in request.Records) _state.Resident(record.GroupId, record.Key);
            }
        }

        if (_buffer.Length < total)
        {
            _buffer = new byte[Math.Max(total, _buffer.Length * 2)];
        }

        long lsn = _state.NextLsn;
        int position = 0;
        foreach (AppendRequest request in _batch)
        {
            foreach (EncodedRecord record in request.Records)
            {
                Span<byte> target = _buffer.AsSpan(position, record.Bytes.Length);
                record.Bytes.CopyTo(target);
                RecordCodec.Seal(target, lsn++);
                position += record.Bytes.Length;
            }
        }

        long offset = head.Length;
        long started = Stopwatch.GetTimestamp();
        try
        {
            head.Writer!.Write(_buffer.AsSpan(0, total), offset);
            head.Writer.Flush();
            HeadHasUnsyncedCopies = false; // the fsync covers the reclamation's copies written before the batch
        }
        catch (Exception e) when (e is not WalFailedException)
        {
            throw WriteFailure.Of(e, _directory, DiscardTail(head, offset));
        }

        _options.Observer?.OnBatchDurable((int)(lsn - _state.NextLsn), total, Stopwatch.GetElapsedTime(started));

        lock (_state.Sync)
        {
            long next = _state.NextLsn;
            int recordOffset = (int)offset;
            foreach (AppendRequest request in _batch)
            {
                foreach (EncodedRecord record in request.Records)
                {
                    // A cold group's state is loaded before its new record applies, so the rules see all its records.
                    GroupState group = _state.Resident(record.GroupId, record.Key);
                    var entry = new IndexEntry(next++, group, record.Kind, record.Slot, recordOffset, record.Bytes.Length);
                    head.Head!.Add(record.Key, new SegmentEntry(entry.Lsn, entry.Kind, entry.Slot, entry.Offset, entry.Length));
                    group.Apply(entry, head.Sequence);
                    recordOffset += record.Bytes.Length;
                    if (record.Kind is WalRecordKind.GroupDeleted)
                    {
                        _reclaimPending = true;
                    }
                }
            }

            head.Length = offset + total;
            _state.NextLsn = lsn;
        }

        if (head.Head!.Count >= _options.HeadIndexEntries)
        {
            WriteIndexOf(head, seal: false);
        }
    }

    /// <summary>
    /// After a failed write or fsync: cuts the segment back to its last durable end and fsyncs that, so no torn or
    /// unknown bytes stay behind and the failed data is never fsynced again (its pages may already be gone).
    /// </summary>
    private static bool DiscardTail(Segment head, long durableEnd)
    {
        try
        {
            head.Writer!.SetLength(durableEnd);
            head.Writer.Flush();
            return true;
        }
        catch (Exception)
        {
            return false;
        }
    }

    /// <summary>The head segment, rotated first if <paramref name="bytes"/> would overflow it.</summary>
    internal Segment EnsureRoom(long bytes)
    {
        Segment head = _state.Head;
        if (head.Length + bytes <= _options.SegmentBytes || head.Length == SegmentHeader.Size)
        {
            return head;
        }

        // A sealed segment is never written again: reclamation's copies in it become durable now, and before the next
        // segment exists on disk. A power cut between the two left unsynced copies torn in a segment that was no longer
        // the last, which recovery can only call corruption, and the log did not open (session 37,
        // ReclaimRotationCrashTests; CrashConsistencyTests seed 11 once in CI).
        SyncCopies(head);
        Segment next = LogRecovery.CreateSegment(_fs, _directory, head.Sequence + 1, _state.NextLsn);
        lock (_state.Sync)
        {
            _state.Segments.Add(next);
        }

        head.Writer?.Dispose();
        head.Writer = null;
        WriteIndexOf(head, seal: true);
        _reclaimPending = true;
        return next;
    }

    /// <summary>
    /// Moves a segment's in-memory index to an index file: when the segment stops being the head (it is sealed), or
    /// when the head's index reaches <see cref="WalOptions.HeadIndexEntries"/>, so the memory it takes is bounded by
    /// that, not by the segment size. A resident group's records that are no longer retained are left out; a cold
    /// group's are all kept (its lookup sorts them out).
    /// </summary>
    private void WriteIndexOf(Segment segment, bool seal)
    {
        var entries = new List<(GroupKey Key, SegmentEntry Entry)>();
        lock (_state.Sync)
        {
            foreach ((GroupKey key, SegmentEntry e) in segment.Head!.All())
            {
                if (_state.Index.Find(key) is not { } group
                    || group.IsLive(new IndexEntry(e.Lsn, group, e.Kind, e.Slot, e.Offset, e.Length), segment.Sequence, inOldestSegment: false))
                {
                    entries.Add((key, e));
                }
            }
        }

        SegmentIndexFile? index = entries.Count == 0 ? null
            : SegmentIndexFile.Write(_fs, SegmentIndexFile.PathFor(segment.Path, segment.Indexes.Count + 1), entries);
        lock (_state.Sync)
        {
            if (index is not null) segment.Indexes.Add(index);
            segment.Head = seal ? null : new HeadIndex();
        }
    }

    private void ReclaimInBackground(bool force)
    {
        // A segment in progress takes one step per batch; looking for a new one waits for the scan interval.
        if (!force && !_options.ManualWriter && !_reclaimer.InProgress && _sinceReclaimScan.Elapsed < ReclaimScanInterval)
        {
            return;
        }

        if (!_reclaimer.InProgress) _sinceReclaimScan.Restart();
        // One step per pass keeps the pause short; the flag stays set while there may be more.
        _reclaimPending = _reclaimer.ReclaimSome(_options.ReclaimStepBytes);
    }

    /// <summary>Any I/O failure is final: after a failed fsync the page cache can no longer be trusted.</summary>
    private void Guard(Action action)
    {
        try
        {
            action();
        }
        catch (Exception ex)
        {
            _failure ??= ex as WalFailedException
                ?? new WalFailedException($"The write-ahead log failed and accepts no more appends: {ex.Message}", ex);
            _reclaimPending = false;
        }
    }
}

namespace OpenReplica.Storage;

/// <summary>Settings of a <see cref="WriteAheadLog"/>; read once by <see cref="WriteAheadLog.Open"/>.</summary>
public sealed class WalOptions
{
    /// <summary>Smallest allowed <see cref="SegmentBytes"/>.</summary>
    public const long MinSegmentBytes = 4 * 1024;
    /// <summary>Largest allowed <see cref="SegmentBytes"/>.</summary>
    public const long MaxSegmentBytes = 1L << 30;

    /// <summary>Default of <see cref="MaxResidentGroups"/>.</summary>
    public const int DefaultMaxResidentGroups = 65_536;

    /// <summary>Data directory holding segments and snapshots (created if missing).</summary>
    public string Directory { get; set; } = "";

    /// <summary>A segment is sealed and a new one started when the next batch would exceed this size.</summary>
    public long SegmentBytes { get; set; } = 64L * 1024 * 1024;

    /// <summary>Most records written by one write+fsync. 1 means one fsync per append (no group commit).</summary>
    public int MaxBatchRecords { get; set; } = 4096;

    /// <summary>Most bytes written by one write+fsync (a single larger append still goes alone).</summary>
    public int MaxBatchBytes { get; set; } = 4 * 1024 * 1024;

    /// <summary>Appends waiting for the writer; when the queue is full, callers wait (asynchronously) for room.</summary>
    public int QueueCapacity { get; set; } = 16 * 1024;

    /// <summary>
    /// Most groups whose retention state (which of their records are still needed, and where) the log keeps in
    /// memory. Beyond it the least recently used leave memory; a group that left is found on disk through the
    /// segments' indexes when it is read or written again. <see cref="IReplicaLog.ReleaseGroup"/> lets an owner drop
    /// an idle group sooner, so memory follows the groups at work rather than this bound.
    /// </summary>
    public int MaxResidentGroups { get; set; } = DefaultMaxResidentGroups;

    /// <summary>
    /// Records of the head segment indexed in memory before that index is written to an index file (about 32 bytes
    /// each, so about 512 KiB); bounds the index's memory whatever the segment size. Tests make it small.
    /// </summary>
    internal int HeadIndexEntries { get; set; } = 16_384;

    /// <summary>
    /// Bytes of a segment's records that reclamation judges (and copies, the live ones) between two of the writer's
    /// batches; tests make it small so that appends, snapshots and deletions interleave with a reclamation.
    /// </summary>
    internal int ReclaimStepBytes { get; set; } = SegmentReclaimer.StepBytes;

    /// <summary>Replaces the real file system, for fault injection in tests.</summary>
    public IFileSystem? FileSystem { get; set; }

    /// <summary>Told about every durable batch (records, bytes, fsync time), for metrics; none by default.</summary>
    public IWalObserver? Observer { get; set; }

    /// <summary>
    /// The deterministic simulator drives the writer itself (<see cref="WriteAheadLog.RunWriterOnce"/>) instead of
    /// a writer thread, so a whole run happens on one thread in simulated time. Never set by a silo.
    /// </summary>
    internal bool ManualWriter { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid option.</summary>
    public void Validate()
    {
        if (string.IsNullOrWhiteSpace(Directory))
        {
            throw new ArgumentException("WalOptions.Directory must name the data directory.", nameof(Directory));
        }

        if (SegmentBytes < MinSegmentBytes || SegmentBytes > MaxSegmentBytes)
        {
            throw new ArgumentException(
                $"WalOptions.SegmentBytes must be between {MinSegmentBytes} and {MaxSegmentBytes}; got {SegmentBytes}.", nameof(SegmentBytes));
        }

        if (MaxBatchRecords < 1)
        {
            throw new ArgumentException($"WalOptions.MaxBatchRecords must be at least 1; got {MaxBatchRecords}.", nameof(MaxBatchRecords));
        }

        if (MaxBatchBytes < 1)
        {
            throw new ArgumentException($"WalOptions.MaxBatchBytes must be at least 1; got {MaxBatchBytes}.", nameof(MaxBatchBytes));
        }

        if (MaxResidentGroups < 4)
        {
            throw new ArgumentException($"WalOptions.MaxResidentGroups must be at least 4; got {MaxResidentGroups}.", nameof(MaxResidentGroups));
        }

        if (QueueCapacity < 1)
        {
            throw new ArgumentException($"WalOptions.QueueCapacity must be at least 1; got {QueueCapacity}.", nameof(QueueCapacity));
        }
    }

    internal WalOptions Clone() => (WalOptions)MemberwiseClone();
}

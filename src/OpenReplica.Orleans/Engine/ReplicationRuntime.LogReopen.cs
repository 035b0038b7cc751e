using Microsoft.Extensions.Logging;
using OpenReplica.Storage;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// What the silo does when its write-ahead log fails (a full disk, a failed write or fsync). Every replica on the silo
/// stops voting at once: the groups whose append failed stop themselves, and the others fail on their next append
/// (persist before send, so nothing that was not made durable ever left the silo). When the log cut the failed batch
/// off again (<see cref="WalFailedException.TailDiscarded"/>), the files hold exactly what was acknowledged, so the
/// runtime reopens the log — after a full disk only once the device has room again — retires every replica built on
/// the failed log, and rebuilds them from disk on demand; they learn what they missed from their peers (catch-up), as
/// after a restart. The failed batch is never written or fsynced again (PostgreSQL's lesson: after a failed fsync the
/// kernel may have dropped the pages). When the tail could not be cut off, the failure is final until the process
/// restarts (recovery then checks every record).
/// </summary>
internal sealed partial class ReplicationRuntime
{
    /// <summary>How often a failed log is checked for a reopen.</summary>
    public static readonly TimeSpan LogReopenInterval = TimeSpan.FromSeconds(1);

    /// <summary>Ticks between the tick loop's looks at the log (200 ms at the 20 ms tick): a failure is reported within that.</summary>
    private const int LogCheckTicks = 10;

    /// <summary>Free bytes the data directory's device must have before a log that failed on a full disk is reopened.</summary>
    public const long ReopenFreeBytesMin = 8L * 1024 * 1024;

    private static readonly TimeSpan PersistDrainBound = TimeSpan.FromSeconds(10);

    private long? _lastReopenAttempt; // null: never tried
    private int _reopening;
    private int _reportedFailure;
    private int _reportedFinal;
    private long _logReopens;

    /// <summary>Times this silo reopened its failed log (diagnostics, tests).</summary>
    public long LogReopens => Interlocked.Read(ref _logReopens);

    /// <summary>The last failure of the silo's log (kept after a reopen; diagnostics, tests).</summary>
    public WalFailedException? LastLogFailure { get; private set; }

    /// <summary>Why the silo's log stopped accepting appends (a full disk, a failed fsync), or null while it works.</summary>
    public WalFailedException? LogFailure => (_store?.Log as WriteAheadLog)?.Failure;

    /// <summary>
    /// How long after its log last failed a silo starts no activations. A reopened log looks healthy until its next
    /// append fails, and on a device that keeps failing fsyncs that is the first one: without a probation every
    /// reopen (once a second) would invite new activations that fail at their first write.
    /// </summary>
    public static readonly TimeSpan LogProbation = TimeSpan.FromSeconds(5);

    private long _logFailedAt; // HostClock of the tick loop's last look that found the log failed; 0: never

    /// <summary>
    /// Whether this silo should host replicated grains' activations: not while its log is failing, nor for
    /// <see cref="LogProbation"/> after it last was. Placement puts activations on other replica silos meanwhile, and
    /// an activation that starts here anyway (placed by a silo that does not know) steps aside before it runs.
    /// </summary>
    public bool StartsActivations
    {
        get
        {
            if (LogFailure is not null) return false;
            // The tick loop looks every 200 ms while the log is failed, and a reopen starts only from such a look.
            long failedAt = Volatile.Read(ref _logFailedAt);
            return failedAt == 0 || HostClock.Now - failedAt >= HostClock.ToTicks(LogProbation);
        }
    }

    private WriteAheadLog OpenPersistedLog() => WriteAheadLog.Open(new WalOptions
    {
        Directory = Path.Combine(options.Value.DataDirectory!, "wal"),
        FileSystem = options.Value.WalFileSystem,
        Observer = instruments,
    });

    /// <summary>Called from the tick loop: reports a failure once, and starts a reopen when it is safe and due.</summary>
    private void MaybeReopenLog()
    {
        if (LogFailure is not { } failure) return;
        LastLogFailure = failure;
        Volatile.Write(ref _logFailedAt, HostClock.Now);
        if (Interlocked.Exchange(ref _reportedFailure, 1) == 0) LogLogFailed(_logger, failure);
        if (!failure.TailDiscarded)
        {
            if (Interlocked.Exchange(ref _reportedFinal, 1) == 0) LogLogFailedForGood(_logger, failure);
            return;
        }
        long now = HostClock.Now;
        if (now - _lastReopenAttempt < HostClock.ToTicks(LogReopenInterval)) return; // false while null
        _lastReopenAttempt = now;
        if (failure.DiskFull && FreeBytes() is { } free && free < ReopenFreeBytesMin) return; // still full: a reopen would fail its first append
        if (Interlocked.Exchange(ref _reopening, 1) == 1) return;
        _ = Task.Run(() =>
        {
            try
            {
                ReopenLog(failure);
            }
            catch (Exception e)
            {
                LogReopenFailed(_logger, e);
            }
            finally
            {
                Volatile.Write(ref _reopening, 0);
            }
        });
    }

    /// <summary>
    /// Retires every group, waits until no engine step is inside the old log, replaces it with a reopened one. Runs
    /// under the lock that group creation takes, so no replica is built on the old log meanwhile.
    /// </summary>
    private void ReopenLog(WalFailedException failure)
    {
        var store = _store!;
        bool hadRosterGroup = Table.Peek(RosterGroup.GroupId) is not null;
        // Their memory may hold promises the failed batch never made durable: none of them may vote again.
        Table.RetireAll(failure, () =>
        {
            var drain = System.Diagnostics.Stopwatch.StartNew();
            while (store.Persisting > 0 && drain.Elapsed < PersistDrainBound) Thread.Sleep(5);
            if (store.Persisting > 0) throw new TimeoutException($"engine steps still persisting after {PersistDrainBound.TotalSeconds:0} s; the reopen is tried again");
            // The old writer must have exited before another one opens the same segment files.
            store.Log.DisposeAsync().AsTask().GetAwaiter().GetResult();
            store.ReplaceLog(OpenPersistedLog());
        });
        // The groups on disk are the ones held already (the held set outlives the log); a union costs nothing extra.
        foreach (string groupId in store.TakeRecoveredGroups())
        {
            if (groupId != RosterGroup.GroupId) _held.Add(groupId);
        }
        _reportedFailure = 0;
        Interlocked.Increment(ref _logReopens);
        LogReopened(_logger, failure.Message);
        if (hadRosterGroup && roster.Genesis is { } genesis) GetOrCreate(RosterGroup.GroupId, genesis);
    }

    private long? FreeBytes()
    {
        try
        {
            return new DriveInfo(Path.GetFullPath(options.Value.DataDirectory!)).AvailableFreeSpace;
        }
        catch (Exception e) when (e is IOException or ArgumentException or UnauthorizedAccessException)
        {
            return null; // unknown: try the reopen; a still-full disk fails the next append again
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "The write-ahead log stopped accepting appends; every replica on this silo stops voting until it is reopened")]
    private static partial void LogLogFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Critical, Message = "The write-ahead log failed and its failed batch could not be cut off; replicas on this silo stop voting until the process restarts")]
    private static partial void LogLogFailedForGood(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reopened the write-ahead log after a failure ({Failure}); replicas rebuild from disk and catch up from peers")]
    private static partial void LogReopened(ILogger logger, string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reopening the failed write-ahead log did not succeed; trying again")]
    private static partial void LogReopenFailed(ILogger logger, Exception exception);
}

using Microsoft.Extensions.Logging;
using OpenReplica.Storage;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// What the silo does when its write-ahead log fails (a full disk, a failed write or fsync). Every replica on the silo
/// stops voting at once: a group whose append failed stops itself, and the others fail on their next append (persist
/// before send, so nothing they did not make durable ever left). When the log cut the failed batch off again
/// (<see cref="WalFailedException.TailDiscarded"/>), the files hold exactly what was acknowledged, so the runtime
/// reopens the log every <see cref="LogReopenInterval"/>, retires every replica built on the failed one, and rebuilds
/// them from disk on demand; they learn what they missed from their peers (catch-up), as after a restart. While the
/// disk is still full the next append fails again and the cycle repeats; nothing is acknowledged meanwhile. When the
/// tail could not be discarded the failure is final until the process restarts.
/// </summary>
internal sealed partial class ReplicationRuntime
{
    public static readonly TimeSpan LogReopenInterval = TimeSpan.FromSeconds(1);

    private long? _lastReopenAttempt;
    private int _reopening;
    private int _reportedFinal;
    private long _logReopens;

    /// <summary>Times this silo reopened its failed log (diagnostics, tests).</summary>
    public long LogReopens => Interlocked.Read(ref _logReopens);

    /// <summary>The last failure of the silo's log seen by the runtime (kept after a reopen; diagnostics, tests).</summary>
    public WalFailedException? LastLogFailure { get; private set; }

    /// <summary>Why the silo's log stopped accepting appends, or null while it works.</summary>
    public WalFailedException? LogFailure => (_store?.Log as WriteAheadLog)?.Failure;

    private IReplicaLog OpenPersistedLog(string directory) =>
        WriteAheadLog.Open(new WalOptions { Directory = directory, FileSystem = options.Value.WalFileSystem });

    /// <summary>Called from the tick loop: starts a reopen when the log failed recoverably and the interval passed.</summary>
    private void MaybeReopenLog()
    {
        if (LogFailure is not { } failure) return;
        LastLogFailure = failure;
        if (!failure.TailDiscarded)
        {
            if (Interlocked.Exchange(ref _reportedFinal, 1) == 0) LogLogFailedForGood(_logger, failure);
            return;
        }
        long now = HostClock.Now;
        if (now - _lastReopenAttempt < HostClock.ToTicks(LogReopenInterval) || Interlocked.Exchange(ref _reopening, 1) == 1) return; // null: never tried
        _lastReopenAttempt = now;
        _ = Task.Run(async () =>
        {
            try
            {
                await ReopenLogAsync(failure);
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

    private async Task ReopenLogAsync(WalFailedException failure)
    {
        var old = _store!;
        bool hadRosterGroup;
        lock (_groups)
        {
            // Retire every replica built on the failed log: their memory may hold promises that never became durable.
            // No store until the new one is open, so no replica can be built on the old one meanwhile.
            hadRosterGroup = _groups.ContainsKey(RosterGroup.GroupId);
            foreach (var group in _groups.Values) group.Retire(failure);
            _groups.Clear();
            _store = null;
        }
        await old.DisposeAsync();
        while (true)
        {
            try
            {
                var store = new GroupStore(OpenPersistedLog(Path.Combine(options.Value.DataDirectory!, "wal")));
                store.Load();
                lock (_groups) _store = store;
                break;
            }
            catch (Exception e) when (e is IOException or WalFailedException)
            {
                LogReopenFailed(_logger, e);
                await Task.Delay(LogReopenInterval, _stopping.Token);
            }
        }
        Interlocked.Increment(ref _logReopens);
        LogReopened(_logger, failure.Message);
        if (hadRosterGroup && roster.Genesis is { } genesis) GetOrCreate(RosterGroup.GroupId, genesis);
    }

    [LoggerMessage(Level = LogLevel.Critical, Message = "The write-ahead log failed and its failed batch could not be cut off; replicas on this silo stop voting until the process restarts")]
    private static partial void LogLogFailedForGood(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reopened the write-ahead log after a failure ({Failure}); replicas rebuild from disk and catch up from peers")]
    private static partial void LogReopened(ILogger logger, string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Reopening the failed write-ahead log did not succeed; trying again")]
    private static partial void LogReopenFailed(ILogger logger, Exception exception);
}

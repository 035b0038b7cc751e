using OpenReplica.Storage;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// A failure of this silo's write-ahead log that reaches a grain call (an activation that starts while the log is
/// failing: its group's first write throws). The storage's exceptions have no Orleans codec: sent back as they are,
/// the caller got a <c>CodecNotFoundException</c> instead of the retriable error its retry policy knows (DiskFullTests,
/// twice in CI). The silo logs the cause where the log failed.
/// </summary>
internal static class LogFailure
{
    // Only the log's own exception: an IOException may be the grain's own outcome, which goes back to its caller.
    public static bool Is(Exception exception) => exception is WalFailedException;

    /// <summary>Whether the write that failed left nothing on disk: the log cut the failed batch off again.</summary>
    public static bool NothingWritten(Exception exception) => exception is WalFailedException { TailDiscarded: true };

    public static ReplicaUnavailableException ForCallers(GrainId grain, Exception exception) =>
        new($"grain {grain}: its replica on this silo cannot use its write-ahead log ({exception.GetType().Name}: {exception.Message}); retry");
}

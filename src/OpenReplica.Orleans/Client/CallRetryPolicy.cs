using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>When and how often a stamped call is retried (with the same stamp).</summary>
internal sealed class CallRetryPolicy(int maxRetries, TimeSpan initialBackoff, TimeSpan maxBackoff)
{
    public int MaxRetries { get; } = maxRetries;

    /// <summary>
    /// Failures after which the call may or may not have run: retrying with the same stamp is safe. Orleans cancels
    /// calls pending on a gateway connection that dies (OperationCanceledException): retried too, since the stamp
    /// makes a retry of a call that did run harmless.
    /// </summary>
    public static bool IsRetriable(Exception exception) =>
        exception is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException or ReplicaUnavailableException
            or OperationCanceledException;

    /// <summary>Exponential backoff before retry number <paramref name="attempt"/> + 1, capped.</summary>
    public TimeSpan Backoff(int attempt)
    {
        var ticks = initialBackoff.Ticks * (1L << Math.Min(attempt, 20));
        return TimeSpan.FromTicks(Math.Min(ticks, maxBackoff.Ticks));
    }
}

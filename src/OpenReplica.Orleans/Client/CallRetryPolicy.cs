using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OpenReplica.Orleans;

/// <summary>Which failures of a stamped call are retried (with the same stamp), how long to wait, and when to stop.</summary>
internal sealed class CallRetryPolicy(ReplicatedClientOptions options)
{
    public TimeSpan CallDeadline { get; } = options.CallDeadline;

    public int MaxRetries { get; } = options.MaxRetries;

    /// <summary>How long the stamp of a call given up on stays unacknowledged (<see cref="ReplicatedClientOptions.OutcomeResolutionWindow"/>).</summary>
    public TimeSpan OutcomeResolutionWindow { get; } = options.OutcomeResolutionWindow;

    /// <summary>
    /// Failures after which the call may or may not have run, or did not reach a grain at all: retrying with the same
    /// stamp is safe, since the grain's reply table answers a stamp it already applied. Orleans reports a lost or
    /// refused gateway connection as <see cref="ConnectionFailedException"/>, a gateway that is shutting down or
    /// overloaded as a rejection (<see cref="OrleansMessageRejectionException"/>, <see cref="SiloUnavailableException"/>,
    /// <see cref="GatewayTooBusyException"/>), a call whose answer never came as <see cref="TimeoutException"/>, a call
    /// it cancelled itself as <see cref="OperationCanceledException"/> (the caller's own cancellation is told apart by
    /// the filter); the grain side reports <see cref="ReplicaUnavailableException"/> and placement
    /// <see cref="ReplicaSetUnavailableException"/> while no replica silo is up.
    /// Everything else (an exception of the method itself, a bad argument, a serialization error) is definite.
    /// </summary>
    public static bool IsRetriable(Exception exception) =>
        exception is SiloUnavailableException or OrleansMessageRejectionException or ConnectionFailedException or GatewayTooBusyException
            or TimeoutException or OperationCanceledException or ReplicaUnavailableException or ReplicaSetUnavailableException;

    /// <summary>
    /// The wait before retry number <paramref name="attempt"/> + 1: exponential from the initial backoff, capped,
    /// and drawn uniformly from the upper half of that value ("equal jitter"), so many callers of one failed silo
    /// spread their retries instead of arriving together.
    /// </summary>
    public TimeSpan Backoff(int attempt, Random random)
    {
        long ceiling = Math.Min(options.InitialBackoff.Ticks * (1L << Math.Min(attempt, 20)), options.MaxBackoff.Ticks);
        return TimeSpan.FromTicks(ceiling / 2 + random.NextInt64(ceiling / 2 + 1));
    }
}

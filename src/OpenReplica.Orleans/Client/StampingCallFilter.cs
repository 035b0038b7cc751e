using Microsoft.Extensions.Logging;
using Orleans.Metadata;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Outgoing filter, on clients (<c>UseReplicatedGrains</c>) and on silos (<c>AddReplicatedGrains</c>, for
/// grain-to-grain calls): stamps every call to a replicated grain type with a fresh <see cref="CallStamp"/> of this
/// process's <see cref="CallStampSource"/> and retries it with the SAME stamp when the silo is unavailable, the call
/// timed out, or the message was rejected, so the grain's session table answers a retry instead of running it twice.
/// Calls to other grains are left alone: a retry could run a plain grain's method twice.
/// A stamp already in the request context (the caller is itself handling a stamped call) is replaced, never
/// forwarded: it names a different call.
/// </summary>
internal sealed partial class StampingCallFilter(
    CallStampSource stamps,
    GrainPropertiesResolver grainProperties,
    CallRetryPolicy retryPolicy,
    ILogger<StampingCallFilter> logger,
    Diagnostics.ReplicationInstruments instruments) : IOutgoingGrainCallFilter
{
    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        if (!IsReplicatedGrainType(context.TargetId.Type))
        {
            await context.Invoke();
            return;
        }

        // Read-only calls are stamped too: the stamp names the caller (a [ReadOnly] method may ask who calls).
        var stamp = stamps.Begin();
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                // Set on every attempt: the request context is exported into the message when it is sent.
                // It is this method's own copy (async flow), so the caller's context is untouched.
                RequestContext.Set(CallStamp.RequestContextKey, stamp);
                Exception failure;
                try
                {
                    context.Response = null;
                    await context.Invoke();
                    if (context.Response?.Exception is not { } responseFailure || !ShouldRetry(responseFailure, attempt))
                    {
                        if (context.Response?.Exception is { } last && CallRetryPolicy.IsRetriable(last)) instruments.OutcomeUnknown();
                        return;
                    }

                    failure = responseFailure;
                }
                catch (Exception exception) when (ShouldRetry(exception, attempt))
                {
                    failure = exception;
                }
                catch (Exception exception) when (CallRetryPolicy.IsRetriable(exception))
                {
                    instruments.OutcomeUnknown(); // out of retries: the call may or may not have run
                    throw;
                }

                LogRetrying(logger, stamp, context.TargetId, attempt + 1, failure.GetType().Name);
                instruments.Retried();
                await Task.Delay(retryPolicy.Backoff(attempt));
            }
        }
        finally
        {
            stamps.Complete(stamp);
        }
    }

    private bool ShouldRetry(Exception failure, int attempt) => attempt < retryPolicy.MaxRetries && CallRetryPolicy.IsRetriable(failure);

    private bool IsReplicatedGrainType(GrainType grainType) =>
        grainProperties.TryGetGrainProperties(grainType, out var properties)
        && properties.Properties.TryGetValue(WellKnownGrainTypeProperties.PlacementStrategy, out var strategy)
        && strategy == nameof(ReplicatedPlacement);

    [LoggerMessage(Level = LogLevel.Information, Message = "Retrying call {Stamp} to {Target} (attempt {Attempt}) after {Failure}")]
    private static partial void LogRetrying(ILogger logger, CallStamp stamp, GrainId target, int attempt, string failure);
}

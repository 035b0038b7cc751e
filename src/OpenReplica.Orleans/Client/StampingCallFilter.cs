using System.Diagnostics;
using Microsoft.Extensions.Logging;
using Orleans.Metadata;
using Orleans.Runtime;
using Orleans.Runtime.Messaging;

namespace OpenReplica.Orleans;

/// <summary>
/// Outgoing filter, on clients (<c>UseReplicatedGrains</c>) and on silos (<c>AddReplicatedGrains</c>, for
/// grain-to-grain calls): stamps every call to a replicated grain type with a fresh <see cref="CallStamp"/> of this
/// process's <see cref="CallStampSource"/> and, after any failure that leaves the outcome open
/// (<see cref="CallRetryPolicy.IsRetriable"/>), retries it with the SAME stamp, with backoff and jitter, until it is
/// answered or its deadline passes; then the caller gets <see cref="CallOutcomeUnknownException"/>. The grain's reply
/// table answers a retry of a call it already applied instead of running it twice.
/// Calls to other grains are left alone: a retry could run a plain grain's method twice.
/// A stamp already in the request context (the caller is itself handling a stamped call) is replaced, never
/// forwarded: it names a different call.
/// <para>
/// A read-only call (<c>[ReadOnly]</c>) is retried the same way but its stamp stays here: a read changes nothing, so the
/// grain has nothing to deduplicate, and a stamp in the request context made every read pay for a context of its own
/// on both sides (the copy, the header, the async flow that carries it; about a sixth of a read's cost on silo
/// processes, docs/benchmarks.md "Session 31"). The breaker finds such a read through <see cref="PendingReads"/>.
/// Reads an outbox effect makes keep their stamps: an effect's calls are numbered in order, and a read takes its number.
/// </para>
/// </summary>
internal sealed partial class StampingCallFilter(
    CallStampSource stamps,
    ReplicatedGrainTypes replicatedTypes,
    CallRetryPolicy retryPolicy,
    Lazy<PendingCallBreaker> breaker,
    PendingReads pendingReads,
    Diagnostics.ReplicationInstruments instruments,
    ILogger<StampingCallFilter> logger) : IOutgoingGrainCallFilter
{
    /// <summary>Calls to other grains pass straight through (no state machine of this filter's own).</summary>
    public Task Invoke(IOutgoingGrainCallContext context) =>
        replicatedTypes.IsReplicated(context.TargetId.Type) ? InvokeStampedAsync(context) : context.Invoke();

    private async Task InvokeStampedAsync(IOutgoingGrainCallContext context)
    {
        // An outbox effect's calls carry stamps derived from the effect, the same on every retry of the effect.
        var effectScope = EffectStampScope.Current;
        var stamp = effectScope?.Next() ?? stamps.Begin();
        bool stampInMessage = effectScope is not null || !ReadOnlyRequests.IsMarked(context.Request);
        // Only a client's breaker looks pending calls up; a silo's calls are ended by Orleans.
        var readInFlight = !stampInMessage && breaker.Value.IsActive ? context.Request : null;
        if (readInFlight is not null) pendingReads.Add(readInFlight, stamp);
        bool abandoned = false;
        long started = Stopwatch.GetTimestamp();
        var callerCancellation = context.Request.GetCancellationToken();
        // At the deadline an attempt still pending is ended (clients), so the loop below sees it fail and gives up.
        using var deadline = new CancellationTokenSource(retryPolicy.CallDeadline);
        using var atDeadline = breaker.Value.IsActive ? deadline.Token.Register(() => breaker.Value.Break(s => s == stamp)) : default;
        Exception? previousFailure = null;
        int refusals = 0; // failures the cluster gave (not attempts this client ended): they set the backoff
        Exception? grainAnswer = null; // the last failure the grain itself gave: it says why (e.g. no majority)
        try
        {
            for (var attempt = 0; ; attempt++)
            {
                // Set on every attempt: the request context is exported into the message when it is sent.
                // It is this method's own copy (async flow), so the caller's context is untouched.
                if (stampInMessage) RequestContext.Set(CallStamp.RequestContextKey, stamp);
                // A read sends no stamp, and never one it inherited (that one names the call being handled).
                else if (RequestContext.Get(CallStamp.RequestContextKey) is not null) RequestContext.Remove(CallStamp.RequestContextKey);
                if (attempt > 0) stamps.AttemptStarted(stamp);
                Exception failure;
                try
                {
                    context.Response = null;
                    await context.Invoke();
                    if (context.Response?.Exception is not { } responseFailure || !IsRetriable(responseFailure, callerCancellation))
                    {
                        return;
                    }

                    failure = responseFailure;
                }
                catch (Exception exception) when (IsRetriable(exception, callerCancellation))
                {
                    failure = exception;
                }

                if (IsGrainAnswer(failure)) grainAnswer = failure;
                // An attempt this client ended itself (a gateway was lost, or it was pending too long afterwards) was not
                // refused by anyone: retry at once. Backoff grows only with failures the cluster gave.
                bool endedHere = failure is SiloUnavailableException && stamps.TakeEndedEarly(stamp);
                var backoff = endedHere ? TimeSpan.Zero : retryPolicy.Backoff(refusals++, Random.Shared);
                var elapsed = Stopwatch.GetElapsedTime(started);
                if (attempt >= retryPolicy.MaxRetries || deadline.IsCancellationRequested || elapsed + backoff >= retryPolicy.CallDeadline)
                {
                    // An attempt ended by the deadline itself says only that, and one ended by this client (the gateway
                    // was lost) says only that the connection went; the grain's own last answer says why the call failed.
                    var reported = ReportedFailure(failure, previousFailure, grainAnswer, deadline.IsCancellationRequested);
                    LogGivingUp(logger, stamp, context.TargetId, attempt + 1, reported.GetType().Name);
                    instruments.OutcomeUnknown();
                    abandoned = true;
                    throw new CallOutcomeUnknownException(stamp, context.TargetId, context.MethodName, attempt + 1, elapsed, reported);
                }

                previousFailure = failure;

                LogRetrying(logger, stamp, context.TargetId, attempt + 1, failure.GetType().Name);
                instruments.Retried();
                if (backoff > TimeSpan.Zero) await Task.Delay(backoff, callerCancellation);
            }
        }
        finally
        {
            if (readInFlight is not null) pendingReads.Remove(readInFlight);
            // A call given up on keeps its stamp unacknowledged for a while: its grain can still say what became of it.
            // A read's stamp never left this process, so no grain has anything to say about it.
            if (effectScope is null && abandoned && stampInMessage) stamps.Abandon(stamp, retryPolicy.OutcomeResolutionWindow);
            else if (effectScope is null) stamps.Complete(stamp);
        }
    }

    private Exception ReportedFailure(Exception last, Exception? previous, Exception? grainAnswer, bool deadlinePassed)
    {
        if (IsGrainAnswer(last)) return last;
        if (grainAnswer is not null && (deadlinePassed || last is SiloUnavailableException or ConnectionFailedException)) return grainAnswer;
        if (!deadlinePassed) return last;
        return previous ?? new TimeoutException($"no answer within the call deadline of {retryPolicy.CallDeadline}", last);
    }

    /// <summary>A failure the grain's side gave itself (it says why the call could not run, e.g. no majority).</summary>
    private static bool IsGrainAnswer(Exception failure) => failure is ReplicaUnavailableException or ReplicaSetUnavailableException;

    /// <summary>A failure that leaves the outcome open, unless it is the caller's own cancellation (that one is final).</summary>
    private static bool IsRetriable(Exception failure, CancellationToken callerCancellation) =>
        CallRetryPolicy.IsRetriable(failure) && !(failure is OperationCanceledException && callerCancellation.IsCancellationRequested);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Retrying call {Stamp} to {Target} (attempt {Attempt}) after {Failure}")]
    private static partial void LogRetrying(ILogger logger, CallStamp stamp, GrainId target, int attempt, string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Call {Stamp} to {Target}: outcome unknown after {Attempts} attempts; last failure {Failure}")]
    private static partial void LogGivingUp(ILogger logger, CallStamp stamp, GrainId target, int attempts, string failure);
}

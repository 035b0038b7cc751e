namespace OpenReplica.Orleans;

/// <summary>
/// A call to a replicated grain was not answered before its deadline (<see cref="ReplicatedClientOptions.CallDeadline"/>,
/// or <see cref="ReplicatedClientOptions.MaxRetries"/> when set): every attempt failed in a way that leaves the
/// outcome open (the grain's silos were unreachable, no majority of its replicas answered, ...), so the call
/// <b>may or may not have been applied</b>. This is the only exception a replicated call throws for that reason; an
/// exception thrown by the grain method itself, or by a bad argument, reaches the caller unchanged and means the
/// call's outcome is known.
/// <para>
/// Do not simply call again: a new call is a new stamp, and it would be applied a second time if the first one was.
/// Ask the grain: <see cref="CallOutcomeResolution.ResolveAsync"/> answers Applied (with the reply) or NotApplied,
/// definitively (a fence in the grain's log keeps a late arrival of the call from being applied), while the stamp is
/// remembered (<see cref="ReplicatedClientOptions.OutcomeResolutionWindow"/>). <see cref="Stamp"/> names the call as
/// the grain recorded it (the grain sees it as <c>Replicated.Call</c>).
/// </para>
/// </summary>
[GenerateSerializer]
public sealed class CallOutcomeUnknownException : Exception
{
    /// <summary>Creates the exception for a call that was given up on.</summary>
    /// <param name="stamp">The call's stamp (the same on every attempt).</param>
    /// <param name="target">The grain called.</param>
    /// <param name="method">The interface method called.</param>
    /// <param name="attempts">Attempts made, the first one included.</param>
    /// <param name="elapsed">Time from the first attempt to giving up.</param>
    /// <param name="lastFailure">Why the last attempt failed (the inner exception).</param>
    public CallOutcomeUnknownException(CallStamp stamp, GrainId target, string method, int attempts, TimeSpan elapsed, Exception lastFailure)
        : base(
            $"The outcome of call {stamp.ClientId:N}#{stamp.Sequence} ({method} on {target}) is unknown: it was not answered in "
            + $"{elapsed.TotalSeconds:0.0} s and {attempts} attempt(s), and it may or may not have been applied. "
            + $"Last failure: {lastFailure.GetType().Name}: {lastFailure.Message}",
            lastFailure)
    {
        Stamp = stamp;
        Target = target;
        Method = method;
        Attempts = attempts;
        Elapsed = elapsed;
    }

    /// <summary>The call's stamp: client id and sequence, as the grain recorded them (<see cref="CallId"/>).</summary>
    [Id(0)]
    public CallStamp Stamp { get; }

    /// <summary>The call's identity in the grain's log (<c>Replicated.Call</c> inside the grain).</summary>
    public CallId Call => new(Stamp.ClientId, Stamp.Sequence);

    /// <summary>The grain the call was made to.</summary>
    [Id(1)]
    public GrainId Target { get; }

    /// <summary>The interface method called.</summary>
    [Id(2)]
    public string Method { get; }

    /// <summary>Attempts made, the first one included.</summary>
    [Id(3)]
    public int Attempts { get; }

    /// <summary>Time from the first attempt until the caller gave up.</summary>
    [Id(4)]
    public TimeSpan Elapsed { get; }

    /// <summary>The failure of the last attempt (also <see cref="Exception.InnerException"/>).</summary>
    public Exception LastFailure => InnerException!;
}

namespace OpenReplica.Orleans;

/// <summary>What a replicated grain says, definitively, about a call whose outcome its caller did not learn.</summary>
public enum ResolvedOutcome
{
    /// <summary>The call was applied (once). <see cref="CallResolution.Result"/> or <see cref="CallResolution.Exception"/> is its answer when the grain still keeps it.</summary>
    Applied,

    /// <summary>The call was not applied, and now never will be: the grain fenced its stamp in the log.</summary>
    NotApplied,

    /// <summary>
    /// The grain no longer remembers the stamp: its caller's later calls acknowledged it (after
    /// <see cref="ReplicatedClientOptions.OutcomeResolutionWindow"/>), or more than 4,096 later calls of that caller reached
    /// this grain. It cannot be applied any more, but whether it was is not known here; read the grain's state.
    /// </summary>
    Forgotten,
}

/// <summary>The answer of <see cref="IReplicatedCallOutcome.ResolveCall"/>.</summary>
/// <param name="Outcome">Applied, not applied, or forgotten.</param>
/// <param name="Result">For an applied call: the method's result, when the grain keeps it.</param>
/// <param name="Exception">For an applied call: the exception the method threw, when the grain keeps it.</param>
/// <param name="ReplyKept">For an applied call: whether <paramref name="Result"/>/<paramref name="Exception"/> are its answer (false: the call deferred its reply and no answer exists yet).</param>
[GenerateSerializer, Immutable]
[Alias("OpenReplica.Orleans.CallResolution")]
public sealed record CallResolution(
    [property: Id(0)] ResolvedOutcome Outcome,
    [property: Id(1)] object? Result = null,
    [property: Id(2)] Exception? Exception = null,
    [property: Id(3)] bool ReplyKept = false);

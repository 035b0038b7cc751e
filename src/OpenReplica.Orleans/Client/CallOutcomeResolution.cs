namespace OpenReplica.Orleans;

/// <summary>Learning what became of a call that ended with <see cref="CallOutcomeUnknownException"/>.</summary>
public static class CallOutcomeResolution
{
    /// <summary>
    /// Asks the call's grain whether it was applied (<see cref="IReplicatedCallOutcome.ResolveCall"/>). Works while the
    /// grain remembers the stamp: the client keeps it unacknowledged for <see cref="ReplicatedClientOptions.OutcomeResolutionWindow"/>
    /// after giving up. Itself a replicated call: it may throw <see cref="CallOutcomeUnknownException"/> while the grain
    /// cannot be reached; try again later.
    /// </summary>
    /// <example>
    /// <code>
    /// catch (CallOutcomeUnknownException unknown)
    /// {
    ///     var resolution = await client.ResolveAsync(unknown);
    ///     if (resolution.Outcome == ResolvedOutcome.NotApplied) { /* safe to call again (a new stamp) */ }
    /// }
    /// </code>
    /// </example>
    public static Task<CallResolution> ResolveAsync(this IGrainFactory grains, CallOutcomeUnknownException unknown)
    {
        ArgumentNullException.ThrowIfNull(grains);
        ArgumentNullException.ThrowIfNull(unknown);
        return grains.GetGrain(unknown.Target).AsReference<IReplicatedCallOutcome>().ResolveCall(unknown.Stamp);
    }
}

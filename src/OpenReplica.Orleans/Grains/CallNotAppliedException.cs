namespace OpenReplica.Orleans;

/// <summary>
/// The reply a replicated grain keeps for a stamp it fenced (<see cref="IReplicatedCallOutcome.ResolveCall"/>): the call
/// with that stamp was not applied and never will be. A late retry of that call gets this exception.
/// </summary>
[GenerateSerializer]
public sealed class CallNotAppliedException : Exception
{
    /// <summary>The error for the call with <paramref name="stamp"/>, which the grain fenced.</summary>
    public CallNotAppliedException(CallStamp stamp)
        : base($"Call {stamp.ClientId:N}#{stamp.Sequence} was not applied: its outcome was resolved, and the grain fenced its stamp")
    {
        Stamp = stamp;
    }

    /// <summary>The fenced call's stamp.</summary>
    [Id(0)]
    public CallStamp Stamp { get; }
}

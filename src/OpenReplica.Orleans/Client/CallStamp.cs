namespace OpenReplica.Orleans;

/// <summary>
/// Identifies one logical call for exactly-once execution: the caller's session id, the call's sequence number
/// in that session (a retry reuses it), and the caller's lowest sequence still waiting for a reply (everything
/// below is acknowledged, so a grain's session table may forget those replies).
/// Travels in <see cref="RequestContext"/> under <see cref="RequestContextKey"/>.
/// </summary>
[GenerateSerializer, Immutable]
[Alias("OpenReplica.Orleans.CallStamp")]
public readonly record struct CallStamp(
    [property: Id(0)] Guid ClientId,
    [property: Id(1)] long Sequence,
    [property: Id(2)] long FirstUnacknowledged)
{
    /// <summary>Request context key carrying the stamp.</summary>
    public const string RequestContextKey = "openreplica-stamp";

    /// <summary>The stamp of a call whose caller did not stamp it (no exactly-once: a retry would run again).</summary>
    public static CallStamp None => default;

    /// <summary>Whether this is the empty stamp (the call was not stamped: it is not retried and not deduplicated).</summary>
    public bool IsNone => ClientId == Guid.Empty;

    /// <summary>
    /// The stamp of the call currently executing, or <see cref="None"/>. A <c>[ReadOnly]</c> call carries none (a read
    /// changes nothing, so there is nothing to deduplicate); inside a replicated grain's write, prefer
    /// <c>Replicated.Call</c>, which replay reproduces.
    /// </summary>
    public static CallStamp Current => RequestContext.Get(RequestContextKey) is CallStamp stamp ? stamp : None;

    /// <summary>The stamp as <c>clientId#sequence (acked&lt;floor)</c>, or <c>unstamped</c>.</summary>
    public override string ToString() => IsNone ? "unstamped" : $"{ClientId:N}#{Sequence} (acked<{FirstUnacknowledged})";
}

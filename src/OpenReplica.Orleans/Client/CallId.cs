namespace OpenReplica.Orleans;

/// <summary>
/// The identity of a call in a replicated grain's log: the caller's session and its sequence number. The same on
/// every replay and on every retry of the call, so a grain may keep it in its State (a waiter of a lock, say) and
/// answer it later with <see cref="ReplicatedContext.Complete"/>. <see cref="ClientId"/> names the caller's session
/// (a client process, or a silo for grain-to-grain calls).
/// </summary>
[GenerateSerializer, Immutable]
public readonly record struct CallId(
    [property: Id(0)] Guid ClientId,
    [property: Id(1)] long Sequence)
{
    /// <summary>The id as <c>clientId#sequence</c>.</summary>
    public override string ToString() => $"{ClientId:N}#{Sequence}";
}

/// <summary>A deferred call answered by a later command: its result, or the exception its caller gets.</summary>
internal readonly record struct DeferredCompletion(CallId Call, object? Result, Exception? Exception);

/// <summary>
/// Thrown (as a faulted task) by <see cref="ReplicatedContext.Defer"/>: the execution path treats it as "no reply
/// yet", keeps the state changes and the caller waiting. Never reaches a caller.
/// </summary>
internal sealed class DeferredReplySignal : Exception
{
    public static readonly DeferredReplySignal Instance = new();

    private DeferredReplySignal() : base("the reply of this call is deferred until a later command completes it") { }
}

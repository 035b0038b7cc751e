namespace OpenReplica.Orleans;

/// <summary>
/// A side effect a replicated call declared with <see cref="ReplicatedContext.AfterCommit"/>, handed to
/// <see cref="ReplicatedGrain{TState}"/>'s <c>OnEffectAsync</c> after the call was chosen and applied.
/// </summary>
/// <param name="Id">
/// The effect's identity, the same on every attempt and in every activation: use it as the idempotency key of an
/// outside service (an HTTP API's idempotency header, a message id). Calls to replicated grains made while the
/// effect runs are stamped from it, so their targets apply each of them once however often the effect is retried.
/// </param>
/// <param name="Value">The value the call passed to <see cref="ReplicatedContext.AfterCommit"/>.</param>
/// <param name="Sequence">The effect's place in the grain's outbox (1, 2, ...: the order calls declared effects).</param>
/// <param name="Attempt">1 for the first run of this effect by this activation, then 2, 3, ... after failures.</param>
public sealed record ReplicatedEffect(Guid Id, object Value, long Sequence, int Attempt);

namespace OpenReplica.Orleans;

/// <summary>
/// While an outbox effect runs (<see cref="ReplicatedEffect"/>), the calls it makes to replicated grains are stamped
/// from the effect's id instead of the silo's session: session = the effect id, sequences 1, 2, ... in the order the
/// effect makes its calls. A retry of the effect — by the same activation after a failure, or by a later activation
/// after a failover — makes the same calls with the same stamps, and their targets answer the ones they already
/// applied from their reply tables: exactly once, as long as the effect makes its calls in a deterministic order.
/// Flows with the effect's async context (an <see cref="AsyncLocal{T}"/>), so concurrent effects do not mix.
/// </summary>
internal sealed class EffectStampScope
{
    private static readonly AsyncLocal<EffectStampScope?> CurrentScope = new();
    private readonly Guid _effectId;
    private long _sequence;

    private EffectStampScope(Guid effectId) => _effectId = effectId;

    /// <summary>The scope of the effect running in this async context, or null.</summary>
    public static EffectStampScope? Current => CurrentScope.Value;

    /// <summary>Starts numbering the effect's calls from 1 (every attempt starts again, so it repeats the same stamps).</summary>
    public static IDisposable Enter(Guid effectId)
    {
        var previous = CurrentScope.Value;
        CurrentScope.Value = new EffectStampScope(effectId);
        return new Exit(previous);
    }

    /// <summary>
    /// The next call's stamp. Its floor stays at 1: an effect may make its calls concurrently, so none of its replies
    /// may be forgotten by the target while the effect can still be retried.
    /// </summary>
    public CallStamp Next() => new(_effectId, Interlocked.Increment(ref _sequence), 1);

    private sealed class Exit(EffectStampScope? previous) : IDisposable
    {
        public void Dispose() => CurrentScope.Value = previous;
    }
}

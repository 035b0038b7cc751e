namespace OpenReplica.Orleans;

/// <summary>
/// The deterministic environment of the command being executed: its log position, its timestamp as
/// <see cref="Now"/>, and randomness seeded from both. A method must use these instead of the clock,
/// <see cref="System.Random.Shared"/> or <see cref="Guid.NewGuid"/>: replay yields identical values.
/// Outside a command (in a read-only call) it describes the last command applied.
/// </summary>
public sealed class ReplicatedContext
{
    private ReplicatedRandom? _random;
    private List<DeferredCompletion>? _completions;
    private List<object>? _effects;

    internal ReplicatedContext(CommandPosition position) => Position = position;

    internal static ReplicatedContext Initial { get; } = new(new CommandPosition(0, DateTimeOffset.UnixEpoch));

    /// <summary>The command's log slot.</summary>
    public long Slot => Position.Slot;

    /// <summary>The command's timestamp, chosen by the leader when it proposed the command.</summary>
    public DateTimeOffset Now => Position.Timestamp;

    /// <summary>Random numbers seeded by (slot, timestamp): the same sequence on every replica and on replay.</summary>
    public Random Random => _random ??= new ReplicatedRandom(Seed(Position));

    internal CommandPosition Position { get; }

    /// <summary>The identity of the call being executed (stable across replays and retries).</summary>
    public CallId Call => Position.Call;

    /// <summary>
    /// Defers the reply of the call being executed: return this from the method, after recording
    /// <see cref="Call"/> in State (a waiter). The state changes stay, the log moves on (the call does not hold
    /// it), and the caller waits until a later command answers with <see cref="Complete"/> or <see cref="Fail"/>.
    /// A waiter survives failover: it is in State, and the caller's retry (same stamp) waits for the same answer.
    /// </summary>
    public Task<T> Defer<T>() => Task.FromException<T>(DeferredReplySignal.Instance);

    /// <inheritdoc cref="Defer{T}"/>
    public Task Defer() => Task.FromException(DeferredReplySignal.Instance);

    /// <summary>Answers a deferred call with <paramref name="result"/> (from a later command).</summary>
    public void Complete(CallId call, object? result = null) => (_completions ??= []).Add(new DeferredCompletion(call, result, null));

    /// <summary>Answers a deferred call with an exception its caller will get.</summary>
    public void Fail(CallId call, Exception exception) => (_completions ??= []).Add(new DeferredCompletion(call, null, exception));

    internal IReadOnlyList<DeferredCompletion> Completions => (IReadOnlyList<DeferredCompletion>?)_completions ?? [];

    /// <summary>
    /// Declares a side effect of the call being executed (send an e-mail, call another grain, publish a message):
    /// it runs after the call is chosen and applied, never while State changes and never on replay. The effect is
    /// kept in the grain's replicated outbox (with State, in its log and snapshots) until the grain's
    /// <c>OnEffectAsync</c> completes for it; the activation that leads the grain runs it, retries it while it fails,
    /// and a later activation runs it again if the one before stopped first. So an effect runs at least once, and
    /// exactly once towards replicated grains: the calls it makes are stamped from <see cref="ReplicatedEffect.Id"/>.
    /// A call that throws declares nothing. <paramref name="effect"/> must be serializable by Orleans
    /// (<c>[GenerateSerializer]</c>).
    /// </summary>
    public void AfterCommit(object effect)
    {
        ArgumentNullException.ThrowIfNull(effect);
        (_effects ??= []).Add(effect);
    }

    internal IReadOnlyList<object> Effects => (IReadOnlyList<object>?)_effects ?? [];

    /// <summary>A version-4 Guid drawn from <see cref="Random"/>.</summary>
    public Guid NewGuid()
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.NextBytes(bytes);
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4 (little-endian layout of Guid(ReadOnlySpan<byte>))
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes);
    }

    private static ulong Seed(CommandPosition position) =>
        (ulong)position.Slot * 0x9E3779B97F4A7C15UL ^ (ulong)position.Timestamp.UtcTicks;
}

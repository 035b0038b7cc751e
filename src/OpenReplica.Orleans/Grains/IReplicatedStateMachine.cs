namespace OpenReplica.Orleans;

/// <summary>
/// What a replicated grain activation offers its <see cref="ICallReplicator"/>: execute chosen commands.
/// Both methods must be called on the activation's own scheduler, in strictly increasing slot order; live commands
/// and replayed ones go through the same execution path, so they change <c>State</c> identically.
/// </summary>
internal interface IReplicatedStateMachine
{
    /// <summary>Executes a chosen command of a live call and returns its outcome (for the caller).</summary>
    Task<CommandOutcome> ApplyAsync(byte[] invokable, CommandPosition position);

    /// <summary>Executes a command from the log while the activation rebuilds its state; the outcome is discarded.</summary>
    Task ApplyReplayedAsync(byte[] invokable, CommandPosition position);

    /// <summary>The serialized State, for a snapshot of the group's log.</summary>
    byte[] SaveState();

    /// <summary>Replaces State with a snapshot's.</summary>
    void LoadState(byte[] state);

    /// <summary>Effects declared by applied calls and not completed yet: replicated like State, saved with it.</summary>
    EffectOutbox Outbox { get; }

    /// <summary>Runs the pending effect <paramref name="sequence"/> (the grain's <c>OnEffectAsync</c>), on the activation's scheduler.</summary>
    Task RunEffectAsync(long sequence, int attempt, CancellationToken cancellationToken);

    /// <summary>The digest of State (<see cref="StateDigest"/>): equal states give equal digests on every replica.</summary>
    ulong DigestState();
}

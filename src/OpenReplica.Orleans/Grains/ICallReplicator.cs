using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Seam for the consensus layer: puts a grain's calls into its log and executes them once chosen.
/// One instance per silo (DI singleton): the consensus replicator (tests may register a stand-in).
/// </summary>
internal interface ICallReplicator
{
    /// <summary>
    /// Called once per activation, before <c>OnActivateAsync</c>: rebuild the grain's state by calling
    /// <see cref="IReplicatedStateMachine.ApplyReplayedAsync"/> (on <c>grain.GrainInstance</c>) for the log's
    /// commands in slot order (after campaigning, in the consensus implementation).
    /// </summary>
    Task RecoverAsync(IGrainContext grain, CancellationToken cancellationToken);

    /// <summary>
    /// Proposes <paramref name="invokable"/> (the serialized <c>IInvokable</c> of a call) with the caller's
    /// <paramref name="stamp"/>; once it is chosen, executes it through
    /// <see cref="IReplicatedStateMachine.ApplyAsync"/> in slot order and returns the method's result, or throws the
    /// method's exception. A stamp already answered returns the recorded reply without executing again.
    /// Called on the activation's scheduler; several calls may be in flight at once.
    /// </summary>
    Task<object?> ReplicateAsync(IGrainContext grain, byte[] invokable, CallStamp stamp, CancellationToken cancellationToken);

    /// <summary>Whether a read-only call may run right now, with no wait (under a leader lease); else use <see cref="ReadBarrierAsync"/>.</summary>
    bool CanReadLocally(IGrainContext grain);

    /// <summary>Completes when a read-only call may run and still be linearizable (read-index in the consensus implementation).</summary>
    Task ReadBarrierAsync(IGrainContext grain, CancellationToken cancellationToken);

    /// <summary>The divergence the activation detected and nobody accepted yet (docs/determinism.md), or null.</summary>
    DivergenceReport? GetDivergence(IGrainContext grain) => null;

    /// <summary>Writes an operator's acceptance of the replayed state into the log; completes once applied.</summary>
    Task AcceptDivergenceAsync(IGrainContext grain, string reason, CancellationToken cancellationToken) =>
        throw new NotSupportedException("this replicator does not detect divergence");

    /// <summary>Resolves the outcome of a call whose caller gave up (<see cref="IReplicatedCallOutcome.ResolveCall"/>).</summary>
    Task<CallResolution> ResolveCallAsync(IGrainContext grain, CallStamp stamp, CancellationToken cancellationToken) =>
        throw new NotSupportedException("this replicator does not resolve call outcomes");

    /// <summary>The activation finished <c>OnActivateAsync</c>: pending outbox effects may run from now on.</summary>
    void Activated(IGrainContext grain)
    {
    }

    /// <summary>The activation is stopping: release what the replicator holds for it.</summary>
    Task DetachAsync(IGrainContext grain);
}

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// What a graceful stop of this silo handed over before the silo left (logged, and read by tests and tools).
/// </summary>
/// <param name="ReplicaId">This silo's replica.</param>
/// <param name="GroupsHeld">Grain groups this silo held a replica of (in memory or only on disk) when it began to leave.</param>
/// <param name="GroupsLeft">Of the groups it held, those whose newest configuration still named this replica, or that
/// it still led, when the hand-over ended: they recover as after a failure.</param>
/// <param name="LeftRoster">Whether the meta group chose a roster without this replica before the silo stopped.</param>
/// <param name="Outcome">How the hand-over ended.</param>
/// <param name="ElapsedMs">Time from the start of the stop to the end of the hand-over.</param>
internal sealed record DecommissionReport(long ReplicaId, int GroupsHeld, int GroupsLeft, bool LeftRoster, DecommissionOutcome Outcome, double ElapsedMs);

/// <summary>How a graceful stop's hand-over ended.</summary>
internal enum DecommissionOutcome
{
    /// <summary>Every group this silo held moved to other silos and none is led from here.</summary>
    HandedOver,

    /// <summary><see cref="ReplicatedGrainsOptions.DecommissionTimeout"/> (or the host's shutdown) ended it first.</summary>
    TimedOut,

    /// <summary>No silo could take this replica's place (the roster has no more members than the replication factor and no spare).</summary>
    NoSuccessor,

    /// <summary>Hand-over is off (<see cref="ReplicatedGrainsOptions.DecommissionTimeout"/> is zero), or the roster was never known.</summary>
    Skipped,
}

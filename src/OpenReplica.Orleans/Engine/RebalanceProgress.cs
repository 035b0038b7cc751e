namespace OpenReplica.Orleans.Replication;

/// <summary>
/// What this silo's rebalancer has done, for logs, tests and a status command: counters since the silo started
/// and what the last pass over the groups this silo holds found.
/// </summary>
/// <param name="RosterVersion">The roster version the last pass placed groups against.</param>
/// <param name="GroupsHeld">Grain groups this silo held a replica of in the last pass.</param>
/// <param name="GroupsMisplaced">Of those, groups whose configuration differed from their replica set in the roster.</param>
/// <param name="MovesCompleted">Groups this silo moved to their replica set (each through its own log).</param>
/// <param name="MovesFailed">Moves that did not finish (lost leadership, a member did not catch up in time); retried.</param>
/// <param name="ReplicasDropped">Replicas this silo forgot after its group moved away from it.</param>
/// <param name="Passes">Passes over the held groups so far.</param>
/// <param name="Example">One group the last pass found misplaced and why (for logs and diagnostics), or null.</param>
internal sealed record RebalanceProgress(
    long RosterVersion,
    int GroupsHeld,
    int GroupsMisplaced,
    long MovesCompleted,
    long MovesFailed,
    long ReplicasDropped,
    long Passes,
    string? Example = null)
{
    /// <summary>
    /// Groups whose move this silo drove itself after the driver it deferred to made no progress (see
    /// <see cref="DeferralWatch"/>); each is also logged.
    /// </summary>
    public long TakeOvers { get; init; }

    /// <summary>
    /// Activations this silo sent to the first silo of their grain's replica set after a move onto silos that joined
    /// (the group kept this silo, and another silo comes first).
    /// </summary>
    public long ActivationsRehomed { get; init; }

    /// <summary>
    /// Groups the last pass did not step: an earlier pass at the same roster version found them in place, and a group
    /// in place stays so until the roster changes.
    /// </summary>
    public int GroupsSkipped { get; init; }
}

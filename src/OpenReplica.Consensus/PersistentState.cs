namespace OpenReplica.Consensus;

/// <summary>
/// What a replica finds on its disk after a restart: the last hard state, the last snapshot, and every entry
/// persisted after it (in the order written; a later record for a slot replaces an earlier one).
/// </summary>
public sealed record PersistentState(HardState HardState, Snapshot? Snapshot, IReadOnlyList<LogEntry> Entries)
{
    /// <summary>
    /// Whether a slot-0 snapshot (the view a replica started from) sets a vote floor on restart. True unless the host
    /// knew, when it started the replica, that no earlier replica of the group under this id ever voted (its silo never
    /// dropped one): then there are no lost votes to keep clear of, and a floor taken from a view that no longer names
    /// the replica would keep it from voting in the older configurations still in force, which may need it.
    /// </summary>
    public bool ViewSetsVoteFloor { get; init; } = true;

    /// <summary>A replica that never persisted anything.</summary>
    public static readonly PersistentState Empty = new(new HardState(Ballot.Zero, 0), null, []);
}

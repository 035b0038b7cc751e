namespace OpenReplica.Consensus;

/// <summary>
/// What a replica finds on its disk after a restart: the last hard state, the last snapshot, and every entry
/// persisted after it (in the order written; a later record for a slot replaces an earlier one).
/// </summary>
public sealed record PersistentState(HardState HardState, Snapshot? Snapshot, IReadOnlyList<LogEntry> Entries)
{
    /// <summary>A replica that never persisted anything.</summary>
    public static readonly PersistentState Empty = new(new HardState(Ballot.Zero, 0), null, []);
}

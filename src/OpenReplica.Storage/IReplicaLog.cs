namespace OpenReplica.Storage;

/// <summary>The log every Paxos group on a silo writes its votes to.</summary>
public interface IReplicaLog : IAsyncDisposable
{
    /// <summary>
    /// Completes after the record is durable (for the durable log: an fsync covering it). Throws
    /// <see cref="WalFailedException"/> once any write or fsync has failed; the log never acknowledges again.
    /// Cancelling only stops the wait: the record may still become durable.
    /// </summary>
    ValueTask AppendAsync(WalRecord record, CancellationToken ct = default);

    /// <summary>Appends the records in order; completes when all are durable. After a crash a prefix may survive.</summary>
    ValueTask AppendAsync(IReadOnlyList<WalRecord> records, CancellationToken ct = default);

    /// <summary>The retained records of all groups in append order (superseded and compacted records are left out).</summary>
    IEnumerable<WalRecord> ReadAll();

    /// <summary>
    /// The groups that had records or a snapshot when the log was opened, as found by the log's own recovery scan (no
    /// I/O here). Handed over once, to the log's owner: the log keeps no copy (a silo that held millions of groups
    /// would hold them twice), and later calls return an empty set.
    /// </summary>
    GroupIdSet TakeRecoveredGroups();

    /// <summary>The retained records of one group in append order.</summary>
    IEnumerable<WalRecord> ReadAll(string groupId);

    /// <summary>Atomically replaces the group's snapshot; its records with Slot &lt;= <paramref name="slot"/> become reclaimable.</summary>
    ValueTask SaveSnapshotAsync(string groupId, long slot, ReadOnlyMemory<byte> snapshot, CancellationToken ct = default);

    /// <summary>
    /// Saves several groups' snapshots, each as <see cref="SaveSnapshotAsync"/> would (a crash leaves each group its
    /// previous or its new snapshot, whole), at the cost of fewer fsyncs where the log can share them. The groups must
    /// be distinct. Throws if one of them already has a newer snapshot (the write-ahead log checks them all before it
    /// writes any).
    /// </summary>
    async ValueTask SaveSnapshotsAsync(IReadOnlyList<SnapshotSave> snapshots, CancellationToken ct = default)
    {
        foreach (SnapshotSave save in snapshots)
        {
            await SaveSnapshotAsync(save.GroupId, save.Slot, save.Snapshot, ct).ConfigureAwait(true);
        }
    }

    /// <summary>The group's latest snapshot, or null.</summary>
    (long Slot, byte[] Data)? LoadSnapshot(string groupId);

    /// <summary>
    /// Says the group is idle: the log may drop what it keeps in memory for it (its index) and find its records on
    /// disk again when the group is next read or written. Changes nothing durable; a no-op for a log without disk.
    /// </summary>
    void ReleaseGroup(string groupId);

    /// <summary>Forgets the group (records and snapshot) durably, e.g. when it moves off this silo.</summary>
    ValueTask DeleteGroupAsync(string groupId, CancellationToken ct = default);
}

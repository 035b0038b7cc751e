using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>
/// What a replica persisted. A crash keeps exactly this: the host writes a Ready's records here before it sends
/// that Ready's messages (the safety rule), so anything a peer has seen a vote for is here.
/// </summary>
public sealed class SimDisk
{
    private readonly List<LogEntry> _entries = [];

    public HardState HardState { get; private set; } = PersistentState.Empty.HardState;

    public Snapshot? Snapshot { get; private set; }

    public long Writes { get; private set; }

    public void Persist(Ready ready)
    {
        if (!ready.MustPersist) return;
        Writes++;
        _entries.AddRange(ready.Entries);
        if (ready.HardState is { } hs) HardState = hs;
        if (ready.SnapshotToPersist is { } snap && (Snapshot is null || snap.Slot > Snapshot.Slot))
        {
            Snapshot = snap;
            // Log reclamation: entries covered by the snapshot are no longer needed.
            _entries.RemoveAll(e => e.Slot <= snap.Slot);
        }
    }

    public PersistentState Load() => new(HardState, Snapshot, _entries.ToList());
}

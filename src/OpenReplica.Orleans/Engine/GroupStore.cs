using OpenReplica.Consensus;
using OpenReplica.Storage;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Maps the consensus core's persist step onto the silo's one write-ahead log shared by every group: accepted
/// entries, hard state and snapshots become WAL records of the group. At start-up it reads the log once and keeps
/// each group's persisted state until the group is first touched.
/// </summary>
internal sealed class GroupStore(IReplicaLog log) : IAsyncDisposable
{
    private readonly Dictionary<string, List<LogEntry>> _entries = [];
    private readonly Dictionary<string, HardState> _hardStates = [];
    private bool _loaded;

    /// <summary>Reads every group's records from the log (once, at silo start).</summary>
    public void Load()
    {
        lock (_entries)
        {
            if (_loaded) return;
            foreach (var record in log.ReadAll())
            {
                switch (record.Kind)
                {
                    case WalRecordKind.Accept:
                        if (!_entries.TryGetValue(record.GroupId, out var list)) _entries[record.GroupId] = list = [];
                        list.Add(WireCodec.DecodeEntry(record.Payload.Span));
                        break;
                    case WalRecordKind.HardState:
                        _hardStates[record.GroupId] = WireCodec.DecodeHardState(record.Payload.Span);
                        break;
                }
            }
            _loaded = true;
        }
    }

    /// <summary>What the group persisted before this silo restarted, or null for a group new to this silo.</summary>
    public PersistentState? TakePersisted(string groupId)
    {
        lock (_entries)
        {
            bool hasEntries = _entries.Remove(groupId, out var entries);
            bool hasHard = _hardStates.Remove(groupId, out var hard);
            var snapshot = log.LoadSnapshot(groupId) is { } s ? WireCodec.DecodeSnapshot(s.Data) : null;
            if (!hasEntries && !hasHard && snapshot is null) return null;
            var kept = (entries ?? []).Where(e => snapshot is null || e.Slot > snapshot.Slot).ToList();
            return new PersistentState(hard ?? PersistentState.Empty.HardState, snapshot, kept);
        }
    }

    // --- scale-out hooks (issue 13): which groups the WAL holds, a new replica's first configuration, forgetting a group.

    /// <summary>Groups the log holds records of that no replica has been rebuilt for yet (after a restart).</summary>
    public IReadOnlyList<string> PersistedGroupIds()
    {
        lock (_entries) return [.. _entries.Keys.Union(_hardStates.Keys)];
    }

    public bool HasPersisted(string groupId)
    {
        lock (_entries) return _entries.ContainsKey(groupId) || _hardStates.ContainsKey(groupId) || log.LoadSnapshot(groupId) is not null;
    }

    /// <summary>
    /// Records the configuration a new replica starts from as a slot-0 snapshot (before it votes), so the replica is
    /// rebuilt from it after a restart whatever the roster is then.
    /// </summary>
    public async ValueTask SaveInitialConfigAsync(string groupId, ClusterConfig config)
    {
        if (log.LoadSnapshot(groupId) is not null) return;
        await log.SaveSnapshotAsync(groupId, 0, WireCodec.Encode(Snapshot.Initial(config)));
    }

    /// <summary>Forgets a group this silo no longer holds a replica of (its records and snapshot).</summary>
    public async ValueTask ForgetAsync(string groupId)
    {
        lock (_entries)
        {
            _entries.Remove(groupId);
            _hardStates.Remove(groupId);
        }
        await log.DeleteGroupAsync(groupId);
    }

    /// <summary>Makes a Ready's records durable (one group-commit fsync for all groups appending now).</summary>
    public async ValueTask PersistAsync(string groupId, Ready ready)
    {
        if (ready.SnapshotToPersist is { } snapshot)
        {
            await log.SaveSnapshotAsync(groupId, snapshot.Slot, WireCodec.Encode(snapshot));
        }
        if (ready.Entries.Count == 0 && ready.HardState is null) return;
        var records = new List<WalRecord>(ready.Entries.Count + 1);
        // Entries before the hard state: a torn tail can then lose the commit index, never entries it covers.
        foreach (var e in ready.Entries)
        {
            records.Add(new WalRecord(groupId, WalRecordKind.Accept, e.Slot, e.Ballot.Round, (int)e.Ballot.ReplicaId, WireCodec.Encode(e)));
        }
        if (ready.HardState is { } hs)
        {
            records.Add(new WalRecord(groupId, WalRecordKind.HardState, hs.CommitIndex, hs.Promised.Round, (int)hs.Promised.ReplicaId, WireCodec.Encode(hs)));
        }
        await log.AppendAsync(records);
    }

    public ValueTask DisposeAsync() => log.DisposeAsync();
}

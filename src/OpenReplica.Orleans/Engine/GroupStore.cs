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

    /// <summary>Groups this silo's log holds a replica of that are not in memory (not touched since the silo started).</summary>
    public int UnloadedGroupCount
    {
        get
        {
            lock (_entries) return _entries.Keys.Union(_hardStates.Keys).Count();
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

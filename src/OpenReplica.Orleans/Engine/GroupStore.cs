using OpenReplica.Consensus;
using OpenReplica.Storage;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Maps the consensus core's persist step onto the silo's one write-ahead log shared by every group: accepted
/// entries, hard state and snapshots become WAL records of the group. An engine step's groups are written with one
/// append (one fsync). A group's persisted state is read from the log when the group is (re)built: at its first use
/// after start, or after it left memory.
/// </summary>
internal sealed class GroupStore(IReplicaLog log) : IEngineStorage, IAsyncDisposable
{
    /// <summary>What the group persisted (before a restart, or before it left memory), or null for a group new to this silo.</summary>
    public PersistentState? ReadPersisted(string groupId)
    {
        var entries = new List<LogEntry>();
        HardState? hard = null;
        foreach (var record in log.ReadAll(groupId))
        {
            switch (record.Kind)
            {
                case WalRecordKind.Accept:
                    entries.Add(WireCodec.DecodeEntry(record.Payload.Span));
                    break;
                case WalRecordKind.HardState:
                    hard = WireCodec.DecodeHardState(record.Payload.Span);
                    break;
            }
        }
        var snapshot = log.LoadSnapshot(groupId) is { } s ? WireCodec.DecodeSnapshot(s.Data) : null;
        if (entries.Count == 0 && hard is null && snapshot is null) return null;
        var kept = entries.Where(e => snapshot is null || e.Slot > snapshot.Slot).ToList();
        return new PersistentState(hard ?? PersistentState.Empty.HardState, snapshot, kept);
    }

    /// <summary>Makes the step's records durable: snapshots first, then every group's entries and hard state in one append.</summary>
    public async ValueTask PersistAsync(IReadOnlyList<(GroupReplica Group, Ready Ready)> batch)
    {
        List<WalRecord>? records = null;
        foreach (var (group, ready) in batch)
        {
            if (ready.SnapshotToPersist is { } snapshot)
            {
                await log.SaveSnapshotAsync(group.GroupId, snapshot.Slot, WireCodec.Encode(snapshot));
            }
            if (ready.Entries.Count == 0 && ready.HardState is null) continue;
            records ??= [];
            // Entries before the hard state: a torn tail can then lose the commit index, never entries it covers.
            foreach (var e in ready.Entries)
            {
                records.Add(new WalRecord(group.GroupId, WalRecordKind.Accept, e.Slot, e.Ballot.Round, (int)e.Ballot.ReplicaId, WireCodec.Encode(e)));
            }
            if (ready.HardState is { } hs)
            {
                records.Add(new WalRecord(group.GroupId, WalRecordKind.HardState, hs.CommitIndex, hs.Promised.Round, (int)hs.Promised.ReplicaId, WireCodec.Encode(hs)));
            }
        }
        if (records is not null) await log.AppendAsync(records);
    }

    public ValueTask DisposeAsync() => log.DisposeAsync();
}

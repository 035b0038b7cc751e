using OpenReplica.Consensus;
using OpenReplica.Storage;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Maps the consensus core's persist step onto the silo's one write-ahead log shared by every group: accepted
/// entries, hard state and snapshots become WAL records of the group. An engine step's groups are written with one
/// append (one fsync). A group's persisted state is read from the log when the group is (re)built: at its first use
/// after start, or after it left memory. After a failure the log can be replaced by a reopened one (<see cref="ReplaceLog"/>).
/// </summary>
internal sealed class GroupStore(IReplicaLog initial) : IEngineStorage, IAsyncDisposable
{
    private IReplicaLog log = initial;
    private int _persisting;

    /// <summary>The silo's log this store reads and writes now.</summary>
    public IReplicaLog Log => Volatile.Read(ref log);

    /// <summary>Engine steps inside <see cref="PersistAsync"/> now (a log reopen waits for them to end).</summary>
    public int Persisting => Volatile.Read(ref _persisting);

    /// <summary>
    /// Switches to a reopened log. The caller retired every group built on the old one and waited until no step
    /// persists (<see cref="Persisting"/> is 0); groups retired meanwhile are skipped by <see cref="PersistAsync"/>.
    /// </summary>
    public void ReplaceLog(IReplicaLog reopened) => Volatile.Write(ref log, reopened);

    /// <summary>What the group persisted (before a restart, or before it left memory), or null for a group new to this silo.</summary>
    public PersistentState? ReadPersisted(string groupId)
    {
        var entries = new List<LogEntry>();
        HardState? hard = null;
        Snapshot? initial = null;
        bool viewSetsFloor = true;
        foreach (var record in log.ReadAll(groupId))
        {
            switch (record.Kind)
            {
                case WalRecordKind.Accept when record.Slot == InitialConfigSlot:
                    initial = WireCodec.DecodeSnapshot(record.Payload.Span);
                    viewSetsFloor = record.BallotRound != NoVoteFloorMark;
                    break;
                case WalRecordKind.Accept:
                    entries.Add(WireCodec.DecodeEntry(record.Payload.Span));
                    break;
                case WalRecordKind.HardState:
                    hard = WireCodec.DecodeHardState(record.Payload.Span);
                    break;
            }
        }
        // A snapshot file is newer than the initial configurations (and, before session 21, held them itself).
        var snapshot = (log.LoadSnapshot(groupId) is { } s ? WireCodec.DecodeSnapshot(s.Data) : null) ?? initial;
        if (entries.Count == 0 && hard is null && snapshot is null) return null;
        var kept = entries.Where(e => snapshot is null || e.Slot > snapshot.Slot).ToList();
        return new PersistentState(hard ?? PersistentState.Empty.HardState, snapshot, kept) { ViewSetsVoteFloor = viewSetsFloor };
    }

    /// <summary>The group left memory: the log may drop its index of the group too (found on disk when rebuilt).</summary>
    public void Release(string groupId) => log.ReleaseGroup(groupId);

    // --- scale-out hooks (issue 13): which groups the log holds, a new replica's first configuration, forgetting a group.

    /// <summary>Every group the log held records or a snapshot of when it was opened (found by its recovery; handed over once).</summary>
    public GroupIdSet TakeRecoveredGroups() => log.TakeRecoveredGroups();

    public bool HasPersisted(string groupId) => log.LoadSnapshot(groupId) is not null || log.ReadAll(groupId).Any();

    /// <summary>
    /// Records the configurations a new replica starts from (a new group's first one from slot 1, or the history of the
    /// existing replica it learned the group from) before it votes, so the replica is rebuilt from them after a restart
    /// or eviction whatever the roster is then: an empty slot-0 snapshot, kept as a WAL record at slot 0 (the log keeps
    /// it until a snapshot compacts the slots up to it, and every snapshot carries the configurations). Until session 21
    /// it was a snapshot file of its own: a file created, fsynced, renamed and its directory fsynced for every replica of
    /// every new grain, one after the other on the leader and then the followers, which made a grain's first write
    /// eight times slower than its second (Persisted, 8.8 ms against 1.1 ms at the median) and left three files per
    /// grain on disk; the record shares the WAL's group-committed append.
    /// </summary>
    /// <remarks>
    /// <paramref name="dropped"/>: this silo's note of an earlier replica of the group it dropped (null: it never held
    /// one). Only with a note does the view set a vote floor (<see cref="PersistentState.ViewSetsVoteFloor"/>): a replica
    /// that is the first here has no lost votes to keep clear of. The answer rides in the record (its ballot round), so a
    /// rebuild after a restart or an eviction, when the note is long gone, gives the same floor. What the dropped replica
    /// promised and held (the note's <see cref="FormerReplica"/>) is written in the same append as the replica's first
    /// hard state (<see cref="FormerReplica.SuccessorHardState"/>: the promise, and a vote floor above the slots it held),
    /// so the new replica refuses what the old one would have and votes only where it never did.
    /// </remarks>
    public async ValueTask SaveInitialConfigAsync(string groupId, ConfigHistory configs, ForgottenNote? dropped)
    {
        if (log.LoadSnapshot(groupId) is not null) return;
        var initial = WireCodec.Encode(new Snapshot(0, configs, SessionTable.Empty, []));
        var view = new WalRecord(groupId, WalRecordKind.Accept, InitialConfigSlot, dropped is null ? NoVoteFloorMark : 0, 0, initial);
        if (dropped is not { Former.IsNone: false } note)
        {
            await log.AppendAsync(view);
            return;
        }
        await log.AppendAsync([view, HardStateRecord(groupId, note.Former.SuccessorHardState)]);
    }

    private static WalRecord HardStateRecord(string groupId, HardState hs) =>
        new(groupId, WalRecordKind.HardState, hs.CommitIndex, hs.Promised.Round, (int)hs.Promised.ReplicaId, WireCodec.Encode(hs));

    /// <summary>The slot of the record that holds a replica's initial configurations (log entries start at 1).</summary>
    private const long InitialConfigSlot = 0;

    /// <summary>The initial configurations' record's ballot round when they set no vote floor (records before session 33 have 0).</summary>
    private const long NoVoteFloorMark = 1;

    /// <summary>Forgets a group this silo no longer holds a replica of (its records and snapshot).</summary>
    public ValueTask ForgetAsync(string groupId) => log.DeleteGroupAsync(groupId);

    /// <summary>Makes the step's records durable: snapshots first (together), then every group's entries and hard state in one append.</summary>
    public async ValueTask PersistAsync(IReadOnlyList<(GroupReplica Group, Ready Ready)> batch)
    {
        Interlocked.Increment(ref _persisting);
        try
        {
            await PersistLiveAsync(batch);
        }
        finally
        {
            Interlocked.Decrement(ref _persisting);
        }
    }

    private async ValueTask PersistLiveAsync(IReadOnlyList<(GroupReplica Group, Ready Ready)> batch)
    {
        // Snapshots first, all of the step's together (their files share one directory fsync).
        List<SnapshotSave>? snapshots = null;
        foreach (var (group, ready) in batch)
        {
            // A group retired by a log reopen: its memory may hold promises the failed log lost; it writes and sends nothing.
            if (group.Failed || ready.SnapshotToPersist is not { } snapshot) continue;
            (snapshots ??= []).Add(new SnapshotSave(group.GroupId, snapshot.Slot, WireCodec.Encode(snapshot)));
        }
        if (snapshots is not null) await log.SaveSnapshotsAsync(snapshots);

        List<WalRecord>? records = null;
        foreach (var (group, ready) in batch)
        {
            if (group.Failed) continue;
            var hardState = group.HardStateToPersist(ready);
            if (!ready.HasEntries && hardState is null) continue;
            records ??= new List<WalRecord>(batch.Count * 2); // about an entry and a hard state per group
            // Entries before the hard state: a torn tail can then lose the commit index, never entries it covers.
            foreach (var e in ready.Entries)
            {
                records.Add(new WalRecord(group.GroupId, WalRecordKind.Accept, e.Slot, e.Ballot.Round, (int)e.Ballot.ReplicaId, WireCodec.Encode(e)));
            }
            if (hardState is { } hs) records.Add(HardStateRecord(group.GroupId, hs));
        }
        if (records is not null) await log.AppendAsync(records);
    }

    public ValueTask DisposeAsync() => Log.DisposeAsync();
}

namespace OpenReplica.Consensus;

// The learner role: learns which values are chosen, catches up from peers, applies in slot order, snapshots.
public sealed partial class PaxosReplica
{
    /// <summary>
    /// The leader of <paramref name="ballot"/> says every slot up to <paramref name="commitIndex"/> is chosen. An
    /// entry we accepted under that same ballot is the chosen value (a leader proposes one value per slot per
    /// ballot); any other slot must be fetched.
    /// </summary>
    private void LearnCommit(Ballot ballot, long commitIndex, long from)
    {
        // A commit index that this ballot's leader told before also covers entries accepted since under the same
        // ballot: a heartbeat saying slot s is chosen may overtake the accept for s, and by the time the accept comes
        // the leader may be gone for good and no member left that knows s chosen (engine seed 106 of the short sweep
        // with a longer commit flush, session 11: the follower asked a member that held s only accepted, for ever).
        long upTo = _knownCommitBallot == ballot ? Math.Max(commitIndex, _knownCommit) : commitIndex;
        // Over the entries this log holds, not over slot numbers: the commit index comes from a peer and may be anything.
        // In place (every accept and heartbeat runs this): an iterator, a filter and a copy per message were ≈ 7 % of
        // the engine's allocations per spread write.
        _log.ChooseAcceptedThrough(ballot, upTo);
        NoteCommit(commitIndex, from, ballot);
        // The leader holds every slot it reports chosen: when it reports the commit index we already wait for, it is
        // the peer to ask. An earlier source may have gone for good (a leader whose silo stopped while we caught up
        // from it), and an idle leader's commit index does not grow past what we heard before, so without this we
        // would ask the gone peer for ever (engine seeds 100, 152 and 923 of session 10: a group's move waited for
        // that member's catch-up, and a group with such a member never left memory).
        if (commitIndex == _knownCommit && _knownCommitFrom != from && commitIndex > _log.CommitIndex)
        {
            _knownCommitFrom = from;
            _catchUpAskedAtTick = long.MinValue;
        }
        DeliverCommitted();
        if (_log.CommitIndex < _knownCommit) AskCatchUp(_knownCommitFrom, _log.CommitIndex + 1, _knownCommit);
    }

    private void LearnChosen(LogEntry e)
    {
        if (e.Slot <= _log.SnapshotSlot || _log.IsChosen(e.Slot)) return;
        if (_leader is { } leader && leader.InFlight.Remove(e.Slot, out var inFlight))
        {
            if (e.Ballot > leader.Ballot)
            {
                // A later ballot chose the slot (its leader pushed the entry unasked; thrifty accepts do, as does a
                // new member's catch-up): this leader was superseded, and what it proposed there was not chosen.
                _ready.Abandoned.AddRange(inFlight.Value.Commands);
                StepDown(e.Ballot.ReplicaId);
            }
            else
            {
                // Paxos: what this leader proposed after phase 1 is the only value a ballot up to its own can choose there.
                Invariant.Assert(ReplicaLog.SameValue(inFlight.Value, e.Value));
            }
        }
        Persist(_log.Choose(e.Slot, e.Ballot, e.Value));
        _leader?.Recovered.Remove(e.Slot);
    }

    private void NoteCommit(long commitIndex, long from, Ballot? ballot = null)
    {
        if (commitIndex > _knownCommit)
        {
            _knownCommit = commitIndex;
            _knownCommitFrom = from;
            _knownCommitBallot = ballot;
            _catchUpMisses = 0;
        }
    }

    /// <summary>
    /// The member asked did not serve the slots we wait for (no answer in a retransmission period, or an empty one):
    /// the next ask goes to the next member. After two rounds over the other members none has served them: only
    /// members that are gone knew them chosen (a leader whose silo stopped for good right after it chose them, its
    /// followers holding the entry accepted at most). Then this replica stops asking and forgets the commit index it
    /// heard (false): the next leader's phase 1 recovers those slots, and a commit index heard again starts the asks
    /// again. Asking for ever kept an idle group busy, so it never left memory (engine seed 55 of the short sweep,
    /// session 11: a follower alternated between the gone leader and a member that had the slot only accepted).
    /// </summary>
    private bool MissedCatchUp()
    {
        _knownCommitFrom = NextCatchUpSource(_knownCommitFrom);
        int others = _configs.Latest.Members.Union(Config.Members).Count(m => m != Id);
        if (++_catchUpMisses < 2 * Math.Max(1, others)) return true;
        _catchUpMisses = 0;
        _knownCommit = _log.CommitIndex;
        _knownCommitBallot = null;
        return false;
    }

    private void AskCatchUp(long peer, long fromSlot, long toSlot)
    {
        if (peer == Id || fromSlot > toSlot) return;
        if (_catchUpAskedAtTick != long.MinValue && _catchUpAskedAtTick + _options.RetransmitTicks > _now) return;
        _catchUpAskedAtTick = _now;
        Send(new CatchUpRequest(Id, peer, fromSlot, toSlot));
    }

    private void MaybeRetryCatchUp()
    {
        if (_log.CommitIndex >= _knownCommit) return;
        // The last ask went unanswered for a retransmission period: its peer may have stopped for good (and no leader
        // may be left to tell us the commit index again). Any member that knows the slots chosen serves them: ask the
        // next one (engine seeds of session 10: a group with such a member never left memory).
        if (_catchUpAskedAtTick != long.MinValue && _catchUpAskedAtTick + _options.RetransmitTicks <= _now && !MissedCatchUp()) return;
        AskCatchUp(_knownCommitFrom, _log.CommitIndex + 1, _knownCommit);
    }

    /// <summary>The member after <paramref name="after"/> (in id order, wrapping) of the configurations this replica knows, itself excluded.</summary>
    private long NextCatchUpSource(long after)
    {
        var members = _configs.Latest.Members.Union(Config.Members).Where(m => m != Id).Order().ToList();
        if (members.Count == 0) return after;
        return members.FirstOrDefault(m => m > after, members[0]);
    }

    private void HandleCatchUpRequest(CatchUpRequest m)
    {
        if (m.FromSlot <= _log.SnapshotSlot && _snapshot is not null)
        {
            Send(new InstallSnapshot(Id, m.From, _snapshot));
            return;
        }
        var chosen = ChosenEntries(m.FromSlot, m.ToSlot);
        if (chosen.Count > 0 || _log.CommitIndex > 0) Send(new CatchUpResponse(Id, m.From, chosen, _log.CommitIndex));
    }

    /// <summary>
    /// The chosen entries this log holds in [<paramref name="fromSlot"/>, <paramref name="toSlot"/>], at most
    /// <see cref="ReplicaOptions.MaxCatchUpEntries"/> and <see cref="ReplicaOptions.MaxMessageBytes"/> (the peer asks
    /// again for the rest, or is pushed it with the next heartbeat).
    /// </summary>
    private List<LogEntry> ChosenEntries(long fromSlot, long toSlot)
    {
        var chosen = new List<LogEntry>();
        long bytes = 0;
        // Over the entries this log holds, not over slot numbers: the range comes from a peer and may be anything.
        foreach (var e in _log.After(Math.Max(fromSlot - 1, _log.SnapshotSlot)))
        {
            if (e.Slot > toSlot || chosen.Count >= _options.MaxCatchUpEntries) break;
            if (!_log.IsChosen(e.Slot)) continue;
            bytes += e.Value.SizeBytes;
            if (chosen.Count > 0 && bytes > _options.MaxMessageBytes) break;
            chosen.Add(e with { Chosen = true });
        }
        return chosen;
    }

    private void HandleCatchUpResponse(CatchUpResponse m)
    {
        long committedBefore = _log.CommitIndex;
        foreach (var e in m.Entries) LearnChosen(e);
        _catchUpAskedAtTick = long.MinValue;
        NoteCommit(m.CommitIndex, m.From);
        DeliverCommitted();
        // Served means our commit index moved: entries that only repeat later slots we hold do not fill the gap. Two
        // followers that both missed slot s but know s+1 chosen answered each other with s+1, each answer counted as
        // served, and they asked each other for ever while the member holding s sat unasked (engine seeds 15877 and
        // 16117 of session 15's sweep at --safety-ms 2500: the group never left memory). The peer we asked does not
        // know what we wait for (its commit index, rebuilt from its disk, may be behind the one it once told): the next
        // ask goes to another member.
        bool served = _log.CommitIndex > committedBefore;
        if (served) _catchUpMisses = 0;
        else if (m.From == _knownCommitFrom && _log.CommitIndex < _knownCommit) MissedCatchUp();
        AfterCatchUp(committedBefore);
        if (_log.CommitIndex < _knownCommit && served) AskCatchUp(m.From, _log.CommitIndex + 1, _knownCommit);
    }

    private void HandleInstallSnapshot(InstallSnapshot m)
    {
        _catchUpAskedAtTick = long.MinValue;
        var snapshot = m.Snapshot;
        if (snapshot.Slot <= _log.CommitIndex)
        {
            // The leader compacted: a member that applied through its slot drops the same prefix (the snapshot's
            // configurations and sessions are those of that slot on every replica, the log being the same).
            if (_options.ShipSnapshotsToFollowers && snapshot.Slot > _log.SnapshotSlot && snapshot.Slot <= _applied)
            {
                _log.TruncateThrough(snapshot.Slot);
                _configs = _configs.TrimBefore(snapshot.Slot + 1);
                _snapshot = snapshot;
                _ready.SnapshotToPersist = snapshot;
            }
            return;
        }
        Invariant.Assert(_ready.Committed.Count == 0);
        long committedBefore = _log.CommitIndex;
        LoadSnapshot(snapshot);
        _ready.SnapshotToInstall = snapshot;
        _ready.SnapshotToPersist = snapshot;
        _hardStateDirty = true;
        NoteCommit(snapshot.Slot, m.From);
        DeliverCommitted();
        AfterCatchUp(committedBefore);
    }

    private void LoadSnapshot(Snapshot snapshot)
    {
        _log.ResetTo(snapshot.Slot);
        _applied = snapshot.Slot;
        // A replica started from a peer's view may know newer configurations than the snapshot's: keep them.
        _configs = snapshot.Configs.ThenNewerOf(_configs);
        _sessions = snapshot.Sessions.Clone();
        _snapshot = snapshot;
        if (_leader is { } leader)
        {
            foreach (long slot in leader.Recovered.Keys.Where(s => s <= snapshot.Slot).ToList()) leader.Recovered.Remove(slot);
            foreach (long slot in leader.InFlight.Keys.Where(s => s <= snapshot.Slot).ToList()) leader.InFlight.Remove(slot);
            leader.NextSlot = Math.Max(leader.NextSlot, snapshot.Slot + 1);
        }
    }

    private void AfterCatchUp(long committedBefore)
    {
        if (_role != ReplicaRole.Candidate)
        {
            FlushProposals();
            return;
        }
        TryBecomeLeader();
        // A member that declined our prepare below its vote floor answered with the log instead: ask the members that
        // have not promised again, with the commit index the answer brought us, rather than a retransmission later.
        if (_role == ReplicaRole.Candidate && _log.CommitIndex > committedBefore) SendPrepares();
    }

    /// <summary>Applies every newly contiguous chosen slot: configurations, sessions (exactly-once), then the host.</summary>
    private void DeliverCommitted()
    {
        var committed = _log.AdvanceCommit();
        if (committed.Count == 0) return;
        _hardStateDirty = true;
        long appliedBefore = _applied;
        // Index loops: a foreach over an IReadOnlyList allocates an enumerator, twice per slot applied here.
        for (int i = 0; i < committed.Count; i++)
        {
            var e = committed[i];
            Invariant.Assert(e.Slot == _applied + 1);
            _applied = e.Slot;
            var commands = e.Value.Commands;
            var applied = new List<AppliedCommand>(commands.Count);
            for (int j = 0; j < commands.Count; j++)
            {
                var c = commands[j];
                bool duplicate = !_sessions.TryMarkApplied(c, e.Slot);
                applied.Add(new AppliedCommand(c, duplicate));
                if (c.HasIdentity) _leader?.PendingIds.Remove(c.Id);
            }
            if (e.Value.Kind == LogValueKind.Config)
            {
                _configs = _configs.Add(e.Slot + _options.Window, e.Value.Config!);
                if (_leader is not null) _leader.ConfigInFlight = false;
            }
            _ready.Committed.Add(new CommittedEntry(e.Slot, e.Value.Kind, applied, e.Value.Config));
        }
        if (_role == ReplicaRole.Leader) SendLogToJoiningMembers(appliedBefore, _applied);
        ServeReads();
    }

    /// <summary>
    /// A configuration that adds members comes into force once the slot before it is chosen: the leader sends each new
    /// member the log up to there at once (the snapshot, then the chosen entries after it), which is what the member
    /// must hold before an old member may leave. Otherwise the new member learns the commit index only from the next
    /// heartbeat and then asks for the log: a round trip and a heartbeat interval more per move. Chosen entries are
    /// facts, so sending them unasked is safe; a member that misses them asks as before.
    /// </summary>
    private void SendLogToJoiningMembers(long committedAfter, long committedThrough)
    {
        var epochs = _configs.Epochs;
        for (int i = 1; i < epochs.Count; i++)
        {
            long lastBefore = epochs[i].FromSlot - 1;
            if (lastBefore <= committedAfter || lastBefore > committedThrough) continue;
            foreach (long member in epochs[i].Config.Members)
            {
                if (member != Id && !epochs[i - 1].Config.Contains(member)) SendLog(member);
            }
        }
    }

    /// <summary>Sends <paramref name="member"/> the snapshot (if any) and the chosen entries after it, up to <see cref="ReplicaOptions.MaxCatchUpEntries"/>.</summary>
    private void SendLog(long member)
    {
        if (_snapshot is not null && _log.SnapshotSlot > 0) Send(new InstallSnapshot(Id, member, _snapshot));
        Send(new CatchUpResponse(Id, member, ChosenEntries(_log.SnapshotSlot + 1, _log.CommitIndex), _log.CommitIndex));
    }

    /// <summary>
    /// Takes a snapshot at the applied index with the host's state machine bytes and drops the log up to it.
    /// The host persists <see cref="Ready.SnapshotToPersist"/>; peers that fall behind get it by catch-up.
    /// </summary>
    public Ready CompactLog(byte[] appState) => CompactLog(_applied, appState);

    /// <summary>
    /// Takes a snapshot at <paramref name="slot"/> (any delivered slot: a host whose state machine applies behind the
    /// commit index reports where its bytes stand) and drops the log up to it. The snapshot's sessions and
    /// configurations are those of that slot, recomputed from the previous snapshot and the chosen entries up to it,
    /// so compaction never needs the state machine to have caught up with the commit index. A slot at or below the
    /// current snapshot is ignored (a late report).
    /// </summary>
    public Ready CompactLog(long slot, byte[] appState)
    {
        ArgumentNullException.ThrowIfNull(appState);
        Invariant.Assert(slot <= _applied);
        if (slot > _log.SnapshotSlot)
        {
            var (configs, sessions) = slot == _applied ? (_configs, _sessions.Clone()) : LearnerStateAt(slot);
            var snapshot = new Snapshot(slot, configs.TrimBefore(slot + 1), sessions, appState);
            _log.TruncateThrough(slot);
            _configs = _configs.TrimBefore(slot + 1);
            _snapshot = snapshot;
            _ready.SnapshotToPersist = snapshot;
            if (_options.ShipSnapshotsToFollowers && _leader is not null)
            {
                foreach (long member in _configs.Latest.Members.Union(Config.Members))
                {
                    if (member != Id) Send(new InstallSnapshot(Id, member, snapshot));
                }
            }
        }
        return TakeReady();
    }

    /// <summary>The configurations and sessions as they stood once <paramref name="slot"/> was applied, replayed from the snapshot.</summary>
    private (ConfigHistory Configs, SessionTable Sessions) LearnerStateAt(long slot)
    {
        var configs = _snapshot?.Configs ?? _options.InitialConfigs ?? ConfigHistory.Start(_options.InitialConfig!);
        var sessions = _snapshot?.Sessions.Clone() ?? new SessionTable(_options.MaxSessions);
        for (long s = _log.SnapshotSlot + 1; s <= slot; s++)
        {
            var e = _log.Get(s);
            Invariant.Assert(e is not null && _log.IsChosen(s));
            foreach (var c in e!.Value.Commands) sessions.TryMarkApplied(c, s);
            if (e.Value.Kind == LogValueKind.Config) configs = configs.Add(s + _options.Window, e.Value.Config!);
        }
        return (configs, sessions);
    }

    /// <summary>
    /// Asks for a linearizable read without a log write (read-index): the leader notes the last slot it may have
    /// let be chosen, confirms with a quorum that it still leads, and reports <see cref="Ready.Reads"/> once that
    /// slot is applied. A non-leader reports <see cref="Ready.FailedReads"/>.
    /// </summary>
    public Ready ReadIndex(long requestId)
    {
        if (_role != ReplicaRole.Leader)
        {
            _ready.FailedReads.Add(requestId);
            return TakeReady();
        }
        var leader = _leader!;
        bool leased = HoldsLease;
        // Under a lease no other leader chooses anything, and this one acknowledges a call only once it is applied:
        // the read needs what is chosen here, plus whatever an earlier ballot may have chosen (the read floor).
        // Without one, anything this leader may already have let be chosen counts too.
        long index = Math.Max(_log.CommitIndex, leader.ReadFloor);
        if (!leased) index = Math.Max(index, leader.NextSlot - 1);
        var read = new PendingRead(requestId, index, ++leader.ReadContext);
        // Below our vote floor our own word that no higher ballot was promised would speak for the dropped replica too.
        if (VotesAbove(_log.CommitIndex)) read.Acks.Add(Id);
        leader.Reads.Add(read);
        if (leased)
        {
            // No other leader can choose anything before the lease ends: the read needs no quorum round.
            read.Confirmed = true;
            RenewLeaseIfDue(leader);
        }
        else
        {
            BroadcastHeartbeat(read.Context);
            ConfirmRead(read);
        }
        ServeReads();
        return TakeReady();
    }

    private void HandleHeartbeatAck(HeartbeatAck m)
    {
        if (_role != ReplicaRole.Leader || m.Ballot != _leader!.Ballot) return;
        _leader.RecentlyHeard.Add(m.From);
        NoteLeaseAck(_leader, m.From, m.ReadContext);
        foreach (var read in _leader.Reads)
        {
            if (read.Context <= m.ReadContext && !read.Confirmed)
            {
                read.Acks.Add(m.From);
                ConfirmRead(read);
            }
        }
        ServeReads();
    }

    private void ConfirmRead(PendingRead read)
    {
        long commit = _log.CommitIndex;
        read.Confirmed = _configs.ConfigsBetween(commit + 1, Math.Max(commit + 1, read.Index + 1)).All(c => IsQuorum(c, read.Acks));
    }

    private void ServeReads()
    {
        if (_leader is null || _leader.Reads.Count == 0) return;
        _leader.Reads.RemoveAll(read =>
        {
            if (!read.Confirmed || _applied < read.Index) return false;
            _ready.Reads.Add(new ReadState(read.RequestId, read.Index));
            return true;
        });
    }
}

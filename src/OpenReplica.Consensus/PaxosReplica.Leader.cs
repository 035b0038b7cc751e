namespace OpenReplica.Consensus;

// The proposer role: phase 1 once per ballot for every open slot, then phase 2 per slot, pipelined and batched.
public sealed partial class PaxosReplica
{
    /// <summary>
    /// Starts phase 1 with a ballot higher than any seen. Grain activations call this (they have no election
    /// timers); in election mode the election timeout calls it. Proposals made meanwhile are queued.
    /// </summary>
    public Ready Campaign()
    {
        // Still guarding another leader's lease: campaign when the guard ends (a tick starts it).
        if (_role != ReplicaRole.Leader && GuardsAgainst(Id)) _campaignPending = true;
        else StartCampaign();
        return TakeReady();
    }

    private void StartCampaign()
    {
        _campaignPending = false;
        if (_role != ReplicaRole.Leader)
        {
            var queued = _leader?.Pending.ToList() ?? [];
            var queuedConfig = _leader?.PendingConfig;
            _leader = null;
            var ballot = new Ballot(Math.Max(_promised.Round, _maxRoundSeen) + 1, Id);
            _maxRoundSeen = ballot.Round;
            SetPromised(ballot);
            _role = ReplicaRole.Candidate;
            _leader = new LeaderState(ballot) { PrepareSentAtTick = _now, PendingConfig = queuedConfig };
            foreach (var c in queued) Enqueue(c);
            ResetElectionTimer();

            // Our own promise: what we accepted ourselves counts like any acceptor's report. With parallel persist the
            // host may send the prepares while our promise of the ballot is being made durable, so our promise counts
            // only when it comes back as a message to ourselves (SendPrepares), delivered once the hard state is durable.
            if (!_options.ParallelPersist) _leader.Promised.Add(Id);
            foreach (var e in _log.After(_log.CommitIndex).Where(e => !e.Chosen)) Recover(e);
            SendPrepares();
            TryBecomeLeader();
        }
    }

    /// <summary>
    /// Stops leading (or campaigning) on request, after telling the followers the commit index: a grain activation
    /// that deactivates frees the leader's state; its queued commands are refused and in-flight ones abandoned.
    /// </summary>
    public Ready Resign()
    {
        SendUnsentCommit();
        _campaignPending = false;
        if (_leader is { } leader)
        {
            // Who may guard this leader's lease, taken before stepping down (the leader's window names them).
            var guards = LeasesOn && _role == ReplicaRole.Leader ? LeaseGrantors(leader) : null;
            StepDown(null);
            // Only now, with no lease read possible here under this ballot: the guards may end early.
            if (guards is not null) ReleaseLease(leader.Ballot, guards);
        }
        return TakeReady();
    }

    /// <summary>Queues one command to be chosen; see <see cref="Propose(IEnumerable{Command})"/>.</summary>
    public Ready Propose(Command command) => Propose([command]);

    /// <summary>Queues commands and proposes as many slots as the window allows; the rest are batched into later slots.</summary>
    public Ready Propose(IEnumerable<Command> commands)
    {
        if (commands is IReadOnlyList<Command> list)
        {
            for (int i = 0; i < list.Count; i++) Admit(list[i]); // no enumerator: the host proposes a list per step
        }
        else
        {
            foreach (var command in commands) Admit(command);
        }
        FlushProposals();
        return TakeReady();
    }

    /// <summary>Queues one proposed command, or says why not (in the Ready's rejections).</summary>
    private void Admit(Command command)
    {
        if (_leader is null)
        {
            _ready.Rejections.Add(new ProposalRejection(command, RejectionReason.NotLeader, _leaderHint));
        }
        else if (command.HasIdentity && _sessions.IsApplied(command.Id))
        {
            _ready.Rejections.Add(new ProposalRejection(command, RejectionReason.AlreadyApplied, Id));
        }
        else if (command.HasIdentity && _leader.PendingIds.Contains(command.Id))
        {
            // Already queued or in flight: it will be chosen once and reported in Committed.
        }
        else if (_leader.Pending.Count >= _options.MaxPendingProposals)
        {
            _ready.Rejections.Add(new ProposalRejection(command, RejectionReason.QueueFull, Id));
        }
        else
        {
            Enqueue(command);
        }
    }

    /// <summary>
    /// Proposes a new configuration. It is in force from the slot it is chosen at plus the window. One change at a
    /// time: a second is refused until the first is in force.
    /// </summary>
    public Ready ProposeConfig(ClusterConfig config)
    {
        ArgumentNullException.ThrowIfNull(config);
        if (_leader is null)
        {
            _ready.Rejections.Add(new ProposalRejection(null, RejectionReason.NotLeader, _leaderHint));
        }
        else if (_leader.PendingConfig is not null || _leader.ConfigInFlight || _configs.LatestFromSlot > _log.CommitIndex + 1)
        {
            _ready.Rejections.Add(new ProposalRejection(null, RejectionReason.ConfigChangeInProgress, Id));
        }
        else
        {
            _leader.PendingConfig = config;
            FlushProposals();
        }
        return TakeReady();
    }

    private void Enqueue(Command command)
    {
        _leader!.Pending.Enqueue(command);
        if (command.HasIdentity) _leader.PendingIds.Add(command.Id);
    }

    private void SendPrepares()
    {
        var leader = _leader!;
        long commit = _log.CommitIndex;
        long last = Math.Max(commit + _options.Window, leader.NextSlot);
        // Also ask the members of configurations we accepted but do not know chosen: if our commit index is stale,
        // the configuration in force may already be one of them, and its members can tell us (a promise reports
        // what they know chosen). Asking more acceptors never hurts safety.
        // Likewise the members of the newest configuration we know: a replica that catches up (one added back to
        // the group, replaying a long log) knows configurations the group left, whose members may all be gone; the
        // newest one's members answer, and their promises carry the log it lacks.
        var pending = _log.After(commit).Concat(leader.Recovered.Values)
            .Where(e => e.Value.Kind == LogValueKind.Config)
            .SelectMany(e => e.Value.Config!.Members)
            .Concat(_configs.Latest.Members);
        foreach (long member in _configs.MembersBetween(commit + 1, last).Union(pending))
        {
            if (member != Id && !leader.Promised.Contains(member))
            {
                Send(new Prepare(Id, member, leader.Ballot, commit));
            }
        }
        // Parallel persist: our own promise, sent again with every retransmission until it has come back. It reports
        // nothing accepted: our own log was read into Recovered when the campaign began.
        if (_options.ParallelPersist && !leader.Promised.Contains(Id))
        {
            Send(new Promise(Id, Id, leader.Ballot, commit, _log.SnapshotSlot, []));
        }
        leader.PrepareSentAtTick = _now;
    }

    private void HandlePromise(Promise m)
    {
        if (_leader is not { } leader || m.Ballot != leader.Ballot) return;
        foreach (var e in m.Accepted)
        {
            if (e.Chosen) LearnChosen(e);
            else if (_role == ReplicaRole.Candidate || e.Slot >= leader.NextSlot) Recover(e);
        }
        leader.Promised.Add(m.From);
        leader.RecentlyHeard.Add(m.From);
        if (m.SnapshotSlot > _log.CommitIndex)
        {
            // The promiser compacted slots we do not know: fetch its snapshot before leading.
            leader.SnapshotNeededThrough = Math.Max(leader.SnapshotNeededThrough, m.SnapshotSlot);
        }
        DeliverCommitted();
        if (m.CommitIndex > _log.CommitIndex)
        {
            // The promiser committed further than we did (its promise carried what its log holds above our commit):
            // ask it for the rest now, even if an earlier ask went to a peer that no longer answers.
            bool newer = m.CommitIndex > _knownCommit;
            NoteCommit(m.CommitIndex, m.From);
            if (newer) _catchUpAskedAtTick = long.MinValue;
            AskCatchUp(m.From, _log.CommitIndex + 1, m.CommitIndex);
        }
        if (_role == ReplicaRole.Candidate) TryBecomeLeader();
        else FlushProposals();
    }

    /// <summary>Keeps, per slot, the value accepted under the highest ballot (the Paxos phase-1 rule).</summary>
    private void Recover(LogEntry e)
    {
        var leader = _leader!;
        if (e.Slot <= _log.CommitIndex || _log.IsChosen(e.Slot)) return;
        if (!leader.Recovered.TryGetValue(e.Slot, out var known) || e.Ballot > known.Ballot)
        {
            leader.Recovered[e.Slot] = e;
            leader.ReadFloor = Math.Max(leader.ReadFloor, e.Slot);
        }
    }

    /// <summary>Phase 1 is done for a slot when a quorum of the configuration in force there has promised.</summary>
    private bool IsPrepared(long slot) => IsQuorum(_configs.At(slot), VotersAt(slot, _leader!.Promised));

    /// <summary>
    /// <paramref name="voters"/> as they count for <paramref name="slot"/>: without this replica below its vote floor,
    /// where the votes of the replica its silo dropped are gone (<see cref="VoteFloor"/>).
    /// </summary>
    private IReadOnlySet<long> VotersAt(long slot, HashSet<long> voters)
    {
        if (slot >= Floor || !voters.Contains(Id)) return voters;
        var others = new HashSet<long>(voters);
        others.Remove(Id);
        return others;
    }

    private void TryBecomeLeader()
    {
        var leader = _leader!;
        if (_role != ReplicaRole.Candidate || _log.CommitIndex < leader.SnapshotNeededThrough) return;
        long commit = _log.CommitIndex;
        // A replica started from a peer's view does not know the configurations in force before that view's first
        // one until its log tells it: it catches up first (its quorums there would be guesses).
        if (commit + 1 < _configs.KnownFrom && !Has(PlantedBug.LeadBeforeKnownConfig)) return;
        // Phase 1 done for the whole window: the voters change only where a configuration comes into force and at our
        // vote floor (below it our own promise does not count), so the first slot of each such stretch decides.
        long last = commit + _options.Window;
        if (!IsPrepared(commit + 1)) return;
        foreach (var (from, _) in _configs.Epochs)
        {
            if (from > commit + 1 && from <= last && !IsPrepared(from)) return;
        }
        if (Floor > commit + 1 && Floor <= last && !IsPrepared(Floor)) return;

        _role = ReplicaRole.Leader;
        _leaderHint = Id;
        leader.NextSlot = commit + 1;
        leader.ReadFloor = Math.Max(leader.ReadFloor, commit); // Recover() already raised it to every recovered slot
        leader.TicksSinceQuorumCheck = 0;
        _ready.BecameLeader = true;
        _ready.LeaderFloor = leader.ReadFloor;
        if (Has(PlantedBug.ForgetDedupAfterLeaderChange)) _sessions = new SessionTable(_options.MaxSessions);
        foreach (var e in leader.Recovered.Values)
        {
            foreach (var c in e.Value.Commands.Where(c => c.HasIdentity)) leader.PendingIds.Add(c.Id);
        }
        FlushProposals();
        BroadcastHeartbeat(0);
    }

    /// <summary>Assigns slots while the window allows: recovered values first, then gaps as no-ops, then new commands.</summary>
    private void FlushProposals()
    {
        if (_role != ReplicaRole.Leader) return;
        var leader = _leader!;
        // The accepts to send, per member: the replica's own container, emptied after each use (the entry lists go
        // into messages; the container never leaves this method, and nothing below calls back into it).
        var outgoing = _outgoing;
        Invariant.Assert(outgoing.Count == 0);
        while (leader.NextSlot <= _log.CommitIndex + _options.Window)
        {
            long slot = leader.NextSlot;
            if (_log.IsChosen(slot))
            {
                leader.Recovered.Remove(slot);
                leader.NextSlot++;
                continue;
            }
            if (!IsPrepared(slot))
            {
                // A configuration with new members is coming into force: phase 1 with them first.
                if (leader.PrepareSentAtTick + _options.RetransmitTicks <= _now || leader.PrepareSentAtTick == _now) SendPrepares();
                break;
            }
            LogValue? value = NextValue(leader);
            if (value is null) break;
            ProposeAt(slot, value, outgoing);
            leader.NextSlot++;
        }
        foreach (var (peer, entries) in outgoing)
        {
            if (peer == Id)
            {
                // Parallel persist: our own vote, to be delivered back once the host made the accepts durable.
                var slots = new List<long>(entries.Count);
                foreach (var e in entries) slots.Add(e.Slot);
                Send(new Accepted(Id, Id, leader.Ballot, slots));
                continue;
            }
            SendAccepts(peer, leader.Ballot, entries);
            leader.CommitSentThrough = _log.CommitIndex;
        }
        outgoing.Clear();
        DeliverCommitted();
    }

    /// <summary>Whether the leader has a value to propose next (what <see cref="NextValue"/> would return, without taking it).</summary>
    private bool HasWaitingValue(LeaderState leader) =>
        leader.Recovered.ContainsKey(leader.NextSlot) || leader.PendingConfig is not null || leader.Pending.Count > 0
        || leader.Recovered.Count > 0 || _configs.LatestFromSlot > leader.NextSlot;

    private LogValue? NextValue(LeaderState leader)
    {
        if (leader.Recovered.Remove(leader.NextSlot, out var recovered)) return recovered.Value;
        if (leader.PendingConfig is { } config)
        {
            leader.PendingConfig = null;
            leader.ConfigInFlight = true;
            return LogValue.ConfigChange(config);
        }
        if (leader.Pending.Count > 0) return LogValue.Batch(TakeBatch(leader.Pending));
        // Nothing new, but slots above were accepted under older ballots: fill the gap so they can be applied.
        if (leader.Recovered.Count > 0) return LogValue.Noop;
        // A chosen configuration comes into force only a window after its slot: an idle leader fills that window
        // with no-ops so a replacement takes effect without waiting for client traffic.
        return _configs.LatestFromSlot > leader.NextSlot ? LogValue.Noop : null;
    }

    private List<Command> TakeBatch(Queue<Command> pending)
    {
        var batch = new List<Command>();
        int bytes = 0;
        while (pending.Count > 0 && batch.Count < _options.MaxBatchCommands)
        {
            int size = pending.Peek().Payload.Length;
            if (batch.Count > 0 && bytes + size > _options.MaxBatchBytes) break;
            batch.Add(pending.Dequeue());
            bytes += size;
        }
        return batch;
    }

    private void ProposeAt(long slot, LogValue value, List<(long Member, List<LogEntry> Entries)> outgoing)
    {
        var leader = _leader!;
        Invariant.Assert(_promised == leader.Ballot);
        var inFlight = new InFlightSlot(value, _now);
        leader.InFlight[slot] = inFlight;
        // A new configuration may need other quorums: no lease is used until it is chosen and confirmed again.
        if (value.Kind == LogValueKind.Config) leader.LeaseBlockedThrough = Math.Max(leader.LeaseBlockedThrough, slot);
        var config = _configs.At(slot);
        // Below our vote floor we propose like a leader that is no member of the slot's configuration: our vote does
        // not count there, so every member gets the accept.
        bool votesHere = config.Contains(Id) && slot >= Floor;
        // The log's own entry is the one sent (records are immutable); made here when this leader votes for the slot.
        var entry = votesHere ? _log.Accept(slot, leader.Ballot, value) : new LogEntry(slot, leader.Ballot, value, Chosen: false);
        var targets = slot >= Floor ? AcceptTargets(leader, config) : null;
        foreach (long member in config.MemberSpan)
        {
            if (member == Id)
            {
                if (!votesHere) continue;
                Persist(entry);
                if (!_options.ParallelPersist) inFlight.Acks.Add(Id);
                else AddOutgoing(outgoing, Id, entry);
            }
            else if (targets is null || targets.Contains(member))
            {
                AddOutgoing(outgoing, member, entry);
            }
            else
            {
                // Left out (thrifty accepts): it gets the chosen entry pushed with the next heartbeat.
                leader.Lagging.TryAdd(member, slot);
            }
        }
        MaybeChosen(slot, inFlight);
    }

    /// <summary>
    /// The members a slot's accept goes to with thrifty accepts (<see cref="ReplicaOptions.AcceptSpares"/>): the first
    /// ones in the leader's order of preference that make a quorum with its own vote, plus the spares. Null: every member.
    /// </summary>
    private List<long>? AcceptTargets(LeaderState leader, ClusterConfig config)
    {
        int others = config.Contains(Id) ? config.MemberSpan.Length - 1 : config.MemberSpan.Length;
        if (_options.AcceptSpares >= others) return null;
        if (leader.AcceptTargets is { } cached && ReferenceEquals(leader.AcceptTargetsConfig, config)) return cached;
        // Members new to the order join it in ring order: the ids above ours first, then from the lowest. Every group a
        // replica leads then prefers the same next members, so an engine step's accepts for many groups go to fewer
        // peer silos (fewer transport batches), while over a ring of leaders each member follows as often as the others.
        var missing = new List<long>();
        foreach (long member in config.MemberSpan)
        {
            if (member != Id && !leader.AcceptOrder.Contains(member)) missing.Add(member);
        }
        missing.Sort((a, b) => (a < Id) == (b < Id) ? a.CompareTo(b) : a < Id ? 1 : -1);
        leader.AcceptOrder.AddRange(missing);
        var voters = new HashSet<long>();
        if (config.Contains(Id)) voters.Add(Id);
        var targets = new List<long>();
        int spares = _options.AcceptSpares;
        foreach (long member in leader.AcceptOrder)
        {
            if (!config.Contains(member)) continue;
            if (IsQuorum(config, voters) && spares-- == 0) break;
            targets.Add(member);
            voters.Add(member);
        }
        leader.AcceptTargets = targets;
        leader.AcceptTargetsConfig = config;
        return targets;
    }

    /// <summary>Thrifty accepts: members that let a slot wait for a retransmission go to the back of the order.</summary>
    private static void DemoteSilent(LeaderState leader, HashSet<long> silent)
    {
        foreach (long member in silent)
        {
            if (leader.AcceptOrder.Remove(member)) leader.AcceptOrder.Add(member);
        }
        leader.AcceptTargets = null;
    }

    /// <summary>
    /// Thrifty accepts: sends <paramref name="member"/> the chosen entries it may lack (left out of their accepts),
    /// through <paramref name="commit"/>, as an unasked catch-up answer; chosen entries are facts, safe to send anyone.
    /// False when it lacks nothing. More than <see cref="ReplicaOptions.MaxCatchUpEntries"/> behind, it asks for the rest.
    /// </summary>
    private bool PushChosen(LeaderState leader, long member, long commit)
    {
        if (!leader.Lagging.TryGetValue(member, out long from) || from > commit) return false;
        var entries = ChosenEntries(from, commit);
        Send(new CatchUpResponse(Id, member, entries, commit));
        long next = entries.Count > 0 ? entries[^1].Slot + 1 : commit + 1;
        // Slots above the commit index may have been left out too: the member stays lagging while any is in flight.
        if (next > commit && leader.InFlight.Count == 0) leader.Lagging.Remove(member);
        else leader.Lagging[member] = next;
        return true;
    }

    /// <summary>Whether a member left out of some accept has not been pushed every slot through <paramref name="commit"/>.</summary>
    private static bool HasLagging(LeaderState leader, long commit)
    {
        foreach (long from in leader.Lagging.Values)
        {
            if (from <= commit) return true;
        }
        return false;
    }

    /// <summary>Adds <paramref name="entry"/> to <paramref name="member"/>'s accepts (a few members: a list walk, in the order first added).</summary>
    private static void AddOutgoing(List<(long Member, List<LogEntry> Entries)> outgoing, long member, LogEntry entry)
    {
        foreach (var (m, entries) in outgoing)
        {
            if (m != member) continue;
            entries.Add(entry);
            return;
        }
        outgoing.Add((member, [entry]));
    }

    private void HandleAccepted(Accepted m)
    {
        if (_role != ReplicaRole.Leader || m.Ballot != _leader!.Ballot) return;
        var leader = _leader;
        leader.RecentlyHeard.Add(m.From);
        for (int i = 0; i < m.Slots.Count; i++)
        {
            long slot = m.Slots[i];
            if (leader.InFlight.TryGetValue(slot, out var inFlight) && _configs.At(slot).Contains(m.From))
            {
                inFlight.Acks.Add(m.From);
                MaybeChosen(slot, inFlight);
            }
        }
        DeliverCommitted();
        FlushProposals();
    }

    private void MaybeChosen(long slot, InFlightSlot inFlight)
    {
        if (_log.IsChosen(slot) || slot <= _log.SnapshotSlot)
        {
            // Learned chosen another way (a peer's report or a snapshot) while our accepts were in flight.
            _leader!.InFlight.Remove(slot);
            return;
        }
        bool chosen = Has(PlantedBug.CommitWithoutQuorum) ? inFlight.Acks.Count >= 1 : IsQuorum(_configs.At(slot), inFlight.Acks);
        if (!chosen) return;
        var leader = _leader!;
        leader.InFlight.Remove(slot);
        bool acceptedHere = _log.Get(slot) is { } own && own.Ballot == leader.Ballot;
        var entry = _log.Choose(slot, leader.Ballot, inFlight.Value);
        // A leader outside the configuration never accepted the value itself: it must still keep it.
        if (!acceptedHere) Persist(entry);
    }

    private void TickLeader()
    {
        var leader = _leader!;
        if (++_heartbeatElapsed >= _options.HeartbeatTicks)
        {
            _heartbeatElapsed = 0;
            // Carry the newest read context: a read whose own heartbeat was lost is confirmed by this round.
            // Without waiting reads, context 0 tells followers no answer is needed (outside election mode).
            // A leader on request (no elections) probes for a lease on a tick only while a read waits for its
            // confirmation: a lease is renewed on demand (RenewLease, ReadIndex), and a probe on every tick of every
            // group with writes in flight doubled the heartbeats (each follower acknowledges a probe) for leases that
            // no read asked for.
            bool unconfirmedReads = leader.Reads.Exists(r => !r.Confirmed);
            bool probe = _options.ElectionTimeoutTicks > 0 || unconfirmedReads;
            BroadcastHeartbeat(unconfirmedReads ? leader.ReadContext : 0, probeLease: probe);
        }
        RetransmitAccepts(leader);
        // Waiting for phase 1 with the members of a configuration coming into force (a new member that had no
        // replica yet dropped the first prepare): FlushProposals retransmits the prepares on time, and proposes once
        // they are answered. Without this only a new proposal would retry, and an idle group's move would stall.
        if (HasWaitingValue(leader) && !IsPrepared(leader.NextSlot) && leader.NextSlot <= _log.CommitIndex + _options.Window) FlushProposals();
        if (_options.ElectionTimeoutTicks > 0 && ++leader.TicksSinceQuorumCheck >= _options.ElectionTimeoutTicks)
        {
            // Check quorum: a leader cut off from a majority steps down so clients go elsewhere.
            leader.RecentlyHeard.Add(Id);
            bool heard = IsQuorum(Config, leader.RecentlyHeard);
            leader.RecentlyHeard.Clear();
            leader.TicksSinceQuorumCheck = 0;
            if (!heard) StepDown(null);
        }
    }

    private void TickCandidate()
    {
        if (_leader!.PrepareSentAtTick + _options.RetransmitTicks <= _now) SendPrepares();
        if (_options.ElectionTimeoutTicks > 0 && ++_electionElapsed >= _electionTimeout)
        {
            // Phase 1 did not finish in time (lost messages or a competing ballot): start over higher.
            StartCampaign();
        }
    }

    private void RetransmitAccepts(LeaderState leader)
    {
        var outgoing = _outgoing;
        Invariant.Assert(outgoing.Count == 0);
        HashSet<long>? silent = null;
        foreach (var (slot, inFlight) in leader.InFlight)
        {
            if (inFlight.SentAtTick + RetransmitDelay(inFlight.Value) > _now) continue;
            inFlight.SentAtTick = _now;
            var entry = new LogEntry(slot, leader.Ballot, inFlight.Value, Chosen: false);
            var config = _configs.At(slot);
            // Thrifty accepts: the retransmission goes to every member, and the preferred ones that did not answer
            // lose their place, so the next slots do not wait for them too.
            if (AcceptTargets(leader, config) is { } targets)
            {
                foreach (long member in targets)
                {
                    if (!inFlight.Acks.Contains(member)) (silent ??= []).Add(member);
                }
            }
            foreach (long member in config.Members)
            {
                if (member == Id || inFlight.Acks.Contains(member)) continue;
                AddOutgoing(outgoing, member, entry);
            }
        }
        if (silent is not null) DemoteSilent(leader, silent);
        foreach (var (peer, entries) in outgoing) SendAccepts(peer, leader.Ballot, entries);
        outgoing.Clear();
    }

    /// <summary>
    /// Ticks before a slot's accept is sent again: <see cref="ReplicaOptions.RetransmitTicks"/>, and one period more
    /// per MiB of value beyond the first. A large value takes longer to carry and to make durable; a 40 MB call was
    /// sent again every 80 ms, 40 MB to each follower each time, while its first copy was still on its way.
    /// </summary>
    private long RetransmitDelay(LogValue value) =>
        _options.RetransmitTicks * (1 + Math.Max(0, value.SizeBytes - 1) / RetransmitBytesPerPeriod);

    private const int RetransmitBytesPerPeriod = 1 << 20;

    /// <summary>
    /// Sends <paramref name="entries"/> to <paramref name="peer"/> as accepts of at most
    /// <see cref="ReplicaOptions.MaxMessageBytes"/> each (the first entry of each goes even if larger).
    /// </summary>
    private void SendAccepts(long peer, Ballot ballot, List<LogEntry> entries)
    {
        int start = 0;
        long bytes = 0;
        for (int i = 0; i < entries.Count; i++)
        {
            long size = entries[i].Value.SizeBytes;
            if (i > start && bytes + size > _options.MaxMessageBytes)
            {
                Send(new Accept(Id, peer, ballot, entries.GetRange(start, i - start), _log.CommitIndex));
                start = i;
                bytes = 0;
            }
            bytes += size;
        }
        Send(new Accept(Id, peer, ballot, start == 0 ? entries : entries.GetRange(start, entries.Count - start), _log.CommitIndex));
    }

    /// <summary>Tells every member the commit index (and, with <paramref name="readContext"/> not 0, asks it to confirm reads).</summary>
    /// <param name="readContext">The newest read context to confirm; 0 when no read waits.</param>
    /// <param name="probeLease">
    /// Whether the round also probes for a lease (asks every follower to acknowledge). A heartbeat that only tells the
    /// commit index does not: acknowledging it would double its messages for a lease nobody asked for.
    /// </param>
    private void BroadcastHeartbeat(long readContext, bool probeLease = true)
    {
        var leader = _leader!;
        if (probeLease) readContext = LeaseProbeContext(leader, readContext);
        long commit = _log.CommitIndex;
        var members = HeartbeatMembers(leader, commit);
        foreach (long member in members)
        {
            if (member == Id) continue;
            // A member left out of accepts gets the chosen entries it lacks, which carry the commit index; it needs
            // the heartbeat as well only when the heartbeat asks for an answer (a read or a lease probe).
            if (!PushChosen(leader, member, commit) || readContext != 0) Send(new Heartbeat(Id, member, leader.Ballot, commit, readContext));
        }
        if (leader.Lagging.Count > 0)
        {
            // A member that left the configurations in force needs nothing more from this leader.
            foreach (long gone in leader.Lagging.Keys.Where(m => !members.Contains(m)).ToList()) leader.Lagging.Remove(gone);
        }
        leader.CommitSentThrough = commit;
    }

    /// <summary>
    /// The members a heartbeat telling <paramref name="commit"/> goes to: those of every configuration from the slot after
    /// it up to the next slot this leader proposes (a member joining or leaving there needs it too).
    /// </summary>
    private IEnumerable<long> HeartbeatMembers(LeaderState leader, long commit) =>
        _configs.MembersBetween(commit + 1, Math.Max(commit + 1, leader.NextSlot));

    /// <summary>
    /// Stops leading: queued commands are refused (they were never proposed), proposed ones are abandoned
    /// (another leader may still choose them, so their outcome is unknown), and waiting reads fail.
    /// </summary>
    private void StepDown(long? newLeader)
    {
        if (_leader is { } leader)
        {
            foreach (var c in leader.Pending) _ready.Rejections.Add(new ProposalRejection(c, RejectionReason.NotLeader, newLeader));
            foreach (var inFlight in leader.InFlight.Values) _ready.Abandoned.AddRange(inFlight.Value.Commands);
            foreach (var read in leader.Reads) _ready.FailedReads.Add(read.RequestId);
            if (_role == ReplicaRole.Leader) _ready.LostLeadership = true;
        }
        _leader = null;
        _role = ReplicaRole.Follower;
        _leaderHint = newLeader;
        ResetElectionTimer();
    }

    private void TickFollower()
    {
        if (_options.ElectionTimeoutTicks == 0) return;
        if (++_electionElapsed >= _electionTimeout && _configs.Latest.Contains(Id) && !GuardsAgainst(Id))
        {
            _leaderHint = null;
            StartCampaign();
        }
    }
}

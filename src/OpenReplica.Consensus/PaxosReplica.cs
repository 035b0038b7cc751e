namespace OpenReplica.Consensus;

/// <summary>
/// One replica of a Multi-Paxos group, as a pure state machine: no clock, threads, sockets or files.
/// Inputs are <see cref="Step"/>, <see cref="Tick"/>, <see cref="Propose(Command)"/>, <see cref="Campaign"/>,
/// <see cref="ReadIndex"/> and <c>CompactLog</c>; each returns a <see cref="Ready"/> that the host must
/// carry out (persist, then send, then apply). Not thread-safe: the host calls it from one thread at a time.
/// Every replica is an acceptor and a learner; it is also a proposer while it leads.
/// </summary>
public sealed partial class PaxosReplica
{
    private readonly ReplicaOptions _options;
    private readonly DeterministicRandom _random;
    private readonly ReplicaLog _log = new();

    // Acceptor state that must be durable (HardState): the highest ballot promised.
    private Ballot _promised;
    private bool _hardStateDirty;
    // The first slot this replica votes for (0: every slot); durable in the hard state. See VoteFloor.
    private long _voteFloor;

    // Learner state, a deterministic function of the chosen log.
    private ConfigHistory _configs;
    private SessionTable _sessions;
    private long _applied;
    private Snapshot? _snapshot;

    private ReplicaRole _role = ReplicaRole.Follower;
    private LeaderState? _leader;
    private long? _leaderHint;
    private long _maxRoundSeen;
    // FlushProposals' and RetransmitAccepts' accepts per member, empty between calls (a dictionary per proposing step
    // was ≈ 1.5 % of the engine's allocations per spread write).
    private readonly List<(long Member, List<LogEntry> Entries)> _outgoing = [];

    // Time, counted in ticks given by the host.
    private long _now;
    private int _electionElapsed;
    private int _electionTimeout;
    private int _heartbeatElapsed;

    // Catch-up: the highest commit index heard of, from whom, and when we last asked.
    private long _knownCommit;
    private long _knownCommitFrom;
    private Ballot? _knownCommitBallot; // the ballot whose leader told _knownCommit (null: a promise, a catch-up answer or a snapshot did)
    private long _catchUpAskedAtTick = long.MinValue;
    private int _catchUpMisses; // asks in a row that no member served (see MissedCatchUp)

    private Ready _ready = new();

    /// <summary>A new replica with nothing persisted (a fresh group member); use <see cref="Restart"/> for one that has a disk.</summary>
    public PaxosReplica(ReplicaOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        if (options.InitialConfig is null)
        {
            throw new ArgumentException("ReplicaOptions.InitialConfig is required: the group's configuration at slot 1.", nameof(options));
        }
        _options = options.Clone();
        _random = new DeterministicRandom(options.RandomSeed ^ (ulong)options.ReplicaId * 0x9E3779B97F4A7C15UL);
        _configs = options.InitialConfigs ?? ConfigHistory.Start(options.InitialConfig);
        if (options.InitialConfigs is { } view && options.ViewSetsVoteFloor) RaiseVoteFloor(view.MemberSince(Id));
        _sessions = new SessionTable(options.MaxSessions);
        InitLeaseGuard();
        ResetElectionTimer();
    }

    /// <summary>Rebuilds a replica from what it persisted. Call <see cref="Start"/> next to replay committed entries.</summary>
    public static PaxosReplica Restart(ReplicaOptions options, PersistentState state)
    {
        var replica = new PaxosReplica(options);
        replica._promised = state.HardState.Promised;
        replica._maxRoundSeen = state.HardState.Promised.Round;
        replica._voteFloor = Math.Max(replica._voteFloor, state.HardState.VoteFloor);
        if (state.Snapshot is { } snapshot)
        {
            replica.LoadSnapshot(snapshot);
            // A slot-0 snapshot is the configuration history the replica started from (a host stores a peer's view that
            // way): its floor holds even if no hard state carried it yet.
            if (snapshot.Slot == 0 && state.ViewSetsVoteFloor) replica.RaiseVoteFloor(snapshot.Configs.MemberSince(replica.Id));
        }

        var lastPerSlot = new SortedDictionary<long, LogEntry>();
        foreach (var entry in state.Entries)
        {
            // A chosen record is final; a later accepted record for the same slot cannot exist, but never let it win.
            if (lastPerSlot.TryGetValue(entry.Slot, out var seen) && seen.Chosen) continue;
            lastPerSlot[entry.Slot] = entry;
        }
        foreach (var entry in lastPerSlot.Values.Where(e => e.Slot > replica._log.SnapshotSlot))
        {
            if (entry.Chosen || entry.Slot <= state.HardState.CommitIndex) replica._log.Choose(entry.Slot, entry.Ballot, entry.Value);
            else replica._log.Accept(entry.Slot, entry.Ballot, entry.Value);
        }
        return replica;
    }

    /// <summary>
    /// A new, empty replica under the id of one its host dropped (a member added back), started from the view in
    /// <see cref="ReplicaOptions.InitialConfigs"/>: it keeps <paramref name="former"/>'s promise and votes only above the
    /// slots that replica held as well as from its view's floor (<see cref="FormerReplica"/>). A host that persists
    /// the replica writes <see cref="FormerReplica.SuccessorHardState"/> and rebuilds it with <see cref="Restart"/>: the same replica.
    /// </summary>
    public static PaxosReplica StartOver(ReplicaOptions options, FormerReplica former)
    {
        ArgumentNullException.ThrowIfNull(options);
        if (options.InitialConfigs is null) throw new ArgumentException("ReplicaOptions.InitialConfigs is required: the view the replica starts from.", nameof(options));
        if (former.IsNone || options.PlantedBugs.HasFlag(PlantedBug.ForgetFormerVotes)) return new PaxosReplica(options);
        var replica = Restart(options, new PersistentState(former.SuccessorHardState, null, []));
        // Its first Ready carries the promise and the floor: a host that persists only what Readys give keeps them too.
        replica._hardStateDirty = true;
        return replica;
    }

    /// <summary>This replica's id in the group (<see cref="ReplicaOptions.ReplicaId"/>).</summary>
    public long Id => _options.ReplicaId;

    /// <summary>Whether the replica follows, campaigns or leads.</summary>
    public ReplicaRole Role => _role;

    /// <summary>Whether the replica leads (phase 1 done for its ballot).</summary>
    public bool IsLeader => _role == ReplicaRole.Leader;

    /// <summary>
    /// The first slot this replica votes for; 0 when it votes for every slot. A replica started from a peer's view of an
    /// existing group (<see cref="ReplicaOptions.InitialConfigs"/>) may be a member added back after its silo dropped
    /// an earlier replica of the group, whose votes for earlier slots are gone: an acceptor that forgot its votes would
    /// let a second value be chosen for a slot. So below the first slot of its current membership
    /// (<see cref="ConfigHistory.MemberSince"/>) it promises to no candidate whose commit index is below it (it sends
    /// that candidate the chosen log instead), accepts nothing, and confirms no read or lease; leading, its own promise,
    /// accept and read acknowledgement do not count there. Durable in the hard state (docs/consensus.md).
    /// </summary>
    public long VoteFloor => _voteFloor;

    /// <summary>The floor the rules apply: none with the planted bug that lets a replica vote below it.</summary>
    private long Floor => Has(PlantedBug.VoteBelowFloor) ? 0 : _voteFloor;

    /// <summary>Whether a leader whose commit index is <paramref name="commit"/> may count this replica's vote (every slot it asks about is at or above the floor).</summary>
    private bool VotesAbove(long commit) => commit + 1 >= Floor;

    private void RaiseVoteFloor(long slot)
    {
        // Slot 1 is every slot: a genesis history keeps the hard state's earlier encoding.
        if (slot <= 1 || slot <= _voteFloor) return;
        _voteFloor = slot;
        _hardStateDirty = true;
    }

    /// <summary>The highest slot this replica holds an entry of, accepted or chosen (its commit index when it holds none above it).</summary>
    public long HighestSlotHeld => _log.LastSlot;

    /// <summary>
    /// Whether this replica holds a vote at or above <paramref name="slot"/> that it does not know chosen: an entry
    /// above its commit index, accepted under another replica's ballot. A member removed from slot
    /// <paramref name="slot"/> on holds one only if the group added it back and it voted there before it learned that
    /// configuration (accepts alone teach it none while it has a gap): its host must keep it then, since a successor
    /// under its id could not speak for those votes (docs/consensus.md, "What a dropped replica leaves").
    /// </summary>
    public bool HoldsVoteFrom(long slot)
    {
        foreach (var e in _log.After(Math.Max(slot - 1, _log.CommitIndex)))
        {
            if (e.Ballot.ReplicaId != Id) return true;
        }
        return false;
    }

    /// <summary>The highest ballot this replica promised (durable once the Ready that raised it is persisted).</summary>
    public Ballot Promised => _promised;

    /// <summary>The ballot this replica leads (or campaigns) with, if any.</summary>
    public Ballot? LeaderBallot => _leader?.Ballot;

    /// <summary>The replica believed to lead, if known (given back with refused proposals).</summary>
    public long? LeaderHint => _leaderHint;

    /// <summary>The highest slot known chosen, with every slot below it chosen too.</summary>
    public long CommitIndex => _log.CommitIndex;

    /// <summary>The last slot handed to the host to apply.</summary>
    public long AppliedIndex => _applied;

    /// <summary>The slot of the latest snapshot; entries up to it were dropped from the log.</summary>
    public long SnapshotSlot => _log.SnapshotSlot;

    /// <summary>The configurations of the group and the slots they are in force from.</summary>
    public ConfigHistory Configs => _configs;

    /// <summary>The configuration in force at the next slot to be chosen.</summary>
    public ClusterConfig Config => _configs.At(_log.CommitIndex + 1);

    /// <summary>Exactly-once bookkeeping derived from the chosen log.</summary>
    public SessionTable Sessions => _sessions;

    /// <summary>
    /// Slots proposed and not yet chosen, proposals queued, reads waiting, a campaign under way or pending: the host
    /// should keep ticking. A leader whose followers have not been told its latest commit index is not counted here
    /// (see <see cref="HasUnsentCommit"/>): the next accept carries it anyway, so a host may tell them lazily.
    /// </summary>
    public bool HasInFlightWork => _leader is { } l && (l.InFlight.Count > 0 || l.Pending.Count > 0 || l.Reads.Count > 0 || l.PendingConfig is not null)
        || _role == ReplicaRole.Candidate || _knownCommit > _log.CommitIndex || _campaignPending;

    /// <summary>
    /// This leader chose slots its followers have not been told about. Hosts that tick only groups with work in
    /// flight call <see cref="FlushCommit"/> now and then, so that an idle group's replicas all learn what is chosen
    /// (and any of them can lead next with a current view) without a heartbeat per call.
    /// </summary>
    public bool HasUnsentCommit => _role == ReplicaRole.Leader
        && (_leader!.CommitSentThrough < _log.CommitIndex || HasLagging(_leader, _log.CommitIndex));

    /// <summary>Tells the followers the commit index, if they have not heard it (a heartbeat they need not answer).</summary>
    public Ready FlushCommit()
    {
        SendUnsentCommit();
        return TakeReady();
    }

    /// <summary>
    /// A leader tells every member the commit index even if it told them before: a member added to an idle group
    /// learns how far it must catch up (hosts call this while they wait for a new member before removing an old one).
    /// </summary>
    public Ready AnnounceCommit()
    {
        if (_role == ReplicaRole.Leader) BroadcastHeartbeat(0, probeLease: false);
        return TakeReady();
    }

    /// <summary>
    /// As <see cref="AnnounceCommit"/>, to one member only: a member back after a restart learns how far it must catch
    /// up (it asks for what it lacks), without a heartbeat to every other member of every group the leader holds.
    /// </summary>
    public Ready AnnounceCommitTo(long member)
    {
        if (_role == ReplicaRole.Leader && member != Id)
        {
            long commit = _log.CommitIndex;
            if (HeartbeatMembers(_leader!, commit).Contains(member)) Send(new Heartbeat(Id, member, _leader!.Ballot, commit, 0));
        }
        return TakeReady();
    }

    private void SendUnsentCommit()
    {
        if (HasUnsentCommit) BroadcastHeartbeat(0, probeLease: false);
    }

    /// <summary>Proposals queued while the window is full (on the leader).</summary>
    public int PendingProposals => _leader?.Pending.Count ?? 0;

    /// <summary>Entries held above the snapshot, in slot order (for checks and tools).</summary>
    public IEnumerable<LogEntry> Entries => _log.After(_log.SnapshotSlot);

    /// <summary>The latest snapshot (taken here or installed from a peer), or null.</summary>
    public Snapshot? LatestSnapshot => _snapshot;

    /// <summary>Hands the host every committed entry it has not applied yet (after <see cref="Restart"/>).</summary>
    public Ready Start()
    {
        DeliverCommitted();
        return TakeReady();
    }

    /// <summary>Advances the replica's logical time by one tick: heartbeats, retransmissions, elections, lease guards.</summary>
    public Ready Tick()
    {
        _now++;
        MaybeStartPendingCampaign();
        if (_role == ReplicaRole.Leader) TickLeader();
        else if (_role == ReplicaRole.Candidate) TickCandidate();
        else TickFollower();
        MaybeRetryCatchUp();
        return TakeReady();
    }

    /// <summary>Handles one message from a peer (or from itself); stale or malformed messages are ignored.</summary>
    public Ready Step(Message message)
    {
        ArgumentNullException.ThrowIfNull(message);
        if (message.To != Id) return TakeReady();
        ObserveBallot(message);
        switch (message)
        {
            case Prepare m: HandlePrepare(m); break;
            case Promise m: HandlePromise(m); break;
            case Accept m: HandleAccept(m); break;
            case Accepted m: HandleAccepted(m); break;
            case Rejected m: HandleRejected(m); break;
            case Heartbeat m: HandleHeartbeat(m); break;
            case HeartbeatAck m: HandleHeartbeatAck(m); break;
            case CatchUpRequest m: HandleCatchUpRequest(m); break;
            case CatchUpResponse m: HandleCatchUpResponse(m); break;
            case InstallSnapshot m: HandleInstallSnapshot(m); break;
            case LeaseRelease m: HandleLeaseRelease(m); break;
            default: throw new ArgumentException($"unknown message type {message.GetType().Name}", nameof(message));
        }
        return TakeReady();
    }

    private void ObserveBallot(Message message)
    {
        Ballot? ballot = message switch
        {
            Prepare m => m.Ballot,
            Promise m => m.Ballot,
            Accept m => m.Ballot,
            Accepted m => m.Ballot,
            Rejected m => m.Promised,
            Heartbeat m => m.Ballot,
            HeartbeatAck m => m.Ballot,
            LeaseRelease m => m.Ballot,
            _ => null,
        };
        if (ballot is { } b) _maxRoundSeen = Math.Max(_maxRoundSeen, b.Round);
    }

    private void SetPromised(Ballot ballot)
    {
        Invariant.Assert(ballot >= _promised || Has(PlantedBug.AcceptLowerBallot));
        if (ballot == _promised) return;
        _promised = ballot;
        _hardStateDirty = true;
    }

    /// <summary>Queues an entry for the host to persist before this Ready's messages leave.</summary>
    private void Persist(LogEntry entry)
    {
        if (Has(PlantedBug.SkipPersistBeforeVote)) return;
        _ready.Entries.Add(entry);
    }

    private void Send(Message message) => _ready.Messages.Add(message);

    private Ready TakeReady()
    {
        if (_hardStateDirty && !Has(PlantedBug.SkipPersistBeforeVote))
        {
            _ready.HardState = new HardState(_promised, _log.CommitIndex, _voteFloor);
        }
        _hardStateDirty = false;
        var ready = _ready;
        _ready = new Ready();
        return ready;
    }

    private bool Has(PlantedBug bug) => (_options.PlantedBugs & bug) != 0;

    private bool IsQuorum(ClusterConfig config, IReadOnlySet<long> voters) =>
        _options.Quorum.IsQuorum(config, voters);

    private void ResetElectionTimer()
    {
        _electionElapsed = 0;
        int t = _options.ElectionTimeoutTicks;
        _electionTimeout = t == 0 ? 0 : t + _random.Next(0, t);
    }

    /// <summary>Diagnostic (logs of a stalled configuration change): the replica, its configurations and any change in progress.</summary>
    public string DescribeConfigChange() =>
        $"{this} latest={_configs.Latest} from slot {_configs.LatestFromSlot}" +
        (_leader is { } l ? $" pendingConfig={l.PendingConfig?.ToString() ?? "none"} configInFlight={l.ConfigInFlight}" : "");

    /// <summary>A one-line summary of the replica (id, role, ballot, commit) for traces.</summary>
    public override string ToString() =>
        $"r{Id} {_role} promised={_promised} commit={_log.CommitIndex} applied={_applied} snap={_log.SnapshotSlot}" +
        (_leader is { } l ? $" next={l.NextSlot} inflight=[{string.Join(",", l.InFlight.Keys)}] pending={l.Pending.Count} reads={l.Reads.Count} recovered={l.Recovered.Count}" : "") +
        (_knownCommit > _log.CommitIndex ? $" knownCommit={_knownCommit}" : "");
}

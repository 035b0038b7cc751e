using Microsoft.Extensions.Logging;
using OpenReplica.Consensus;
using OpenReplica.Orleans.Diagnostics;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Receives a group's effects in log order; implemented by the grain activation that leads the group and by the
/// meta group. Called on the engine's worker after the Ready's records are durable and its messages sent: it must
/// only hand the Ready over (queue it) and return, never run user code or wait.
/// </summary>
internal interface IGroupListener
{
    void OnReady(Ready ready);

    /// <summary>The replica stopped (a failed fsync, a broken invariant): fail waiting calls; nothing more will come.</summary>
    void OnFailed(Exception exception);

    /// <summary>
    /// Another listener (a newer activation of the same grain on this silo) took the group: nothing more will come to
    /// this one, so it must stop serving, reads under the lease included.
    /// </summary>
    void OnDisplaced(Exception reason) => OnFailed(reason);
}

/// <summary>Whether <see cref="GroupReplica.Propose"/> queued a command.</summary>
internal enum ProposeResult
{
    Queued,

    /// <summary>Too many proposals wait for the group's next step: the caller gets a retryable overload error.</summary>
    Full,

    /// <summary>The replica stopped (failed) or left memory (evicted): the caller finds the group again.</summary>
    Stopped,
}

/// <summary>
/// One replica of one group on this silo: the pure core plus the inputs waiting for it. The group has no loop or
/// timer of its own: posting an input schedules the group on the engine worker it belongs to, which steps it
/// together with every other ready group of that worker (one WAL append, one batch per peer silo). Only that worker
/// touches the core, one step at a time, so persist-before-send and apply-in-order follow from the worker.
/// </summary>
internal sealed partial class GroupReplica
{
    /// <summary>Inputs (messages, ticks, control) waiting for one step at most; beyond it a message is dropped (peers retransmit).</summary>
    public const int InboxCapacity = 65_536;

    // Inputs and proposals wait here until the worker takes them. Both lists exist only while something waits: an
    // idle group is only its core and these few fields.
    private readonly Lock _gate = new();
    private List<GroupInput>? _inputs;
    // The inputs list of the group's last step, emptied: the next wake-up fills it instead of a new one (a list and its
    // array per group step were ≈ 5 % of the engine's allocations per spread write). Only small ones are kept.
    private List<GroupInput>? _spareInputs;
    private const int SpareInputsCapacity = 32;
    private List<Command>? _proposals;
    private bool _scheduled;
    private bool _stepping; // a step took this group's inputs and has not advanced yet (its append may be in flight)
    private bool _evicted;
    private readonly PaxosReplica _core;
    private readonly EngineWorker _worker;
    private readonly int _proposalCapacity;
    private readonly ILogger _logger;
    private IGroupListener? _listener;
    private volatile bool _needsTicks;
    private volatile bool _isLeader;
    private volatile ClusterConfig? _latestConfig;
    private volatile bool _unsentCommit;
    private volatile bool _idle;
    private volatile bool _commitNotDurable; // the commit index in memory is past the one on disk (learned without an append)
    private volatile bool _persistCommit; // the next step appends the commit index, even if nothing else needs it
    private readonly bool _alwaysTick;
    private volatile bool _failed;
    private bool _retired; // set by RetireIfAsync, on the worker, in the step that checked it
    private readonly bool _leases;
    private volatile LeaseView _lease = LeaseView.None;
    private int _renewalPosted;
    private Ballot _durablePromised;
    private long _durableCommit; // the commit index on disk: a message to a peer tells no higher one
    private long _handedOutThrough; // the last slot handed to the listener (worker only): the next Ready starts after it
    private HardState? _writing; // the hard state the step in flight writes (set by the store)
    private readonly GroupMetrics? _metrics;
    private CampaignTrace? _campaign; // only while a campaign of this replica runs, with Debug logging on
    private List<TaskCompletionSource>? _afterStep; // PostUntilSentAsync's waits for the step in flight (under the gate)

    public GroupReplica(string groupId, PaxosReplica core, EngineWorker worker, int proposalCapacity, ILogger logger,
        IGroupListener? listener = null, bool alwaysTick = false, GroupMetrics? metrics = null)
    {
        _metrics = metrics;
        _leases = core.LeasesEnabled;
        // Set before the first step, so the listener also sees what Start() replays (the meta group needs it).
        _listener = listener;
        _alwaysTick = alwaysTick;
        GroupId = groupId;
        _core = core;
        // What the core restarted with is on disk already.
        _durablePromised = core.Promised;
        _durableCommit = core.CommitIndex;
        _handedOutThrough = core.AppliedIndex;
        _worker = worker;
        _proposalCapacity = proposalCapacity;
        _logger = logger;
        LastActiveTick = worker.Clock.Now;
        Post(c =>
        {
            var ready = c.Start();
            // The commit index a restarted core reaches by replaying its log is on disk too (its chosen entries are):
            // a rebuilt replica writes it again only when it learns a higher one.
            _durableCommit = Math.Max(_durableCommit, c.CommitIndex);
            return ready;
        });
    }

    public string GroupId { get; }

    /// <summary>The engine bugs the simulator planted (none on a silo).</summary>
    internal EngineBug PlantedBugs => _worker.PlantedBugs;

    /// <summary>This replica's id in the group (the same on every group of this silo).</summary>
    public long ReplicaId => _core.Id;

    /// <summary>The core has work that needs ticks (retransmissions, phase 1, reads): the runtime ticks only such groups.</summary>
    public bool NeedsTicks => _alwaysTick || _needsTicks;

    /// <summary>
    /// Told after a step that leaves the group needing ticks or a commit flush: the table's tick visits only the groups
    /// it was told about, not every group in memory (an idle group costs no CPU per tick).
    /// </summary>
    internal Action<GroupReplica>? WantsTicks { get; set; }

    /// <summary>The tick has something to do for this group: work in flight, or a commit index to flush.</summary>
    internal bool Ticks => !_failed && (NeedsTicks || _unsentCommit);

    /// <summary>Whether this replica led the group after its last step (a hint for timers; the core decides).</summary>
    public bool IsLeader => _isLeader;

    /// <summary>
    /// The group's newest configuration as of its last step (null before the first): a hint for ordering moves, read
    /// without a step (a graceful stop and a rebalance pass look at every group held; the core decides).
    /// </summary>
    public ClusterConfig? LatestConfig => _latestConfig;

    /// <summary>This replica leads and chose slots its followers have not been told about yet (see <see cref="PaxosReplica.FlushCommit"/>).</summary>
    public bool HasUnsentCommit => _unsentCommit;

    public bool Failed => _failed;

    /// <summary>
    /// Whether the next step must append even if it has nothing else to write: the commit index is to go to disk before
    /// the group leaves memory (<see cref="PersistCommitBeforeEviction"/>).
    /// </summary>
    internal bool PersistsCommit => _persistCommit;

    /// <summary>
    /// The replica knows a commit index its disk does not: it learned it from a step that needed no append (a leader's
    /// heartbeat or commit flush to an idle follower), and a rebuild from disk would know an older one.
    /// </summary>
    public bool CommitNotDurable => _commitNotDurable;

    /// <summary>
    /// Has the group's next step append its commit index (batched with the worker's other groups), so that an eviction
    /// after it loses nothing this replica knew. Not counted as use of the group by callers; the step itself is.
    /// </summary>
    /// <remarks>
    /// Why: a follower that learned the last commits of an idle group from the leader's commit flush holds them in
    /// memory only (nothing waits for a follower's commit index on disk, so that step appends nothing). Evicted so, it
    /// was rebuilt with the commit index of its last append, and an idle group's leader tells it no more: in session 11
    /// a follower that had learned the window after a removal (slots 35-65) came back at slot 34, showing the
    /// configuration with the removed member in force for good (<c>DecommissionTests</c>, traced).
    /// </remarks>
    public void PersistCommitBeforeEviction()
    {
        _persistCommit = true;
        Post(static _ => new Ready());
    }

    /// <summary>The commit index this replica's disk holds (read on the worker: inside <see cref="AskAsync{T}"/>).</summary>
    internal long DurableCommit => _durableCommit;

    /// <summary>The group left memory (see <see cref="TryEvict"/>); a new replica must be built from disk.</summary>
    public bool Evicted => _evicted;

    /// <summary>Neither failed nor evicted: inputs posted to it will be stepped.</summary>
    public bool Usable => !_failed && !_evicted;

    /// <summary>Host clock of the last input, step or hand-out: groups idle long enough may leave memory.</summary>
    public long LastActiveTick { get; private set; }

    /// <summary>
    /// Host clock of the last step that sent a peer a message (a leader's accepts and heartbeats carry its commit
    /// index): the commit flush waits until the group has sent nothing for a while (<see cref="GroupTable.CommitFlushQuietTicks"/>).
    /// </summary>
    /// <remarks>
    /// Not <see cref="LastActiveTick"/>: every input counts there, and a status ask is one. Rebalance passes ask each
    /// held group's status every pass (200 ms in the tests), and a follower whose group looks misplaced asks its
    /// leader pass after pass: an idle leader asked that often never went quiet and never told its followers its last
    /// commits (<c>IdleCommitTests</c>; found while tracing session 11's <c>DecommissionTests</c> failure, whose
    /// traced cause was the eviction of <see cref="PersistCommitBeforeEviction"/>).
    /// </remarks>
    public long LastSentTick { get; private set; }

    /// <summary>Marks the group as just handed out (it is not evicted for an idle period); false if it already left memory.</summary>
    public bool Touch()
    {
        lock (_gate)
        {
            if (_evicted) return false;
            LastActiveTick = _worker.Clock.Now;
            return true;
        }
    }

    /// <summary>Queues an input. A full inbox drops it: peers retransmit, and a proposal times out and is retried.</summary>
    public bool Post(Func<PaxosReplica, Ready> input) => Enqueue(new GroupInput(input, null));

    /// <summary>
    /// Queues a message for the core's <see cref="PaxosReplica.Step"/> (as <see cref="Post(Func{PaxosReplica, Ready})"/>
    /// would, without a delegate per message: every message a silo receives comes here).
    /// </summary>
    public bool Post(Message message) => Enqueue(new GroupInput(null, message));

    private bool Enqueue(GroupInput input)
    {
        bool schedule;
        lock (_gate)
        {
            if (_failed || _evicted || _inputs?.Count >= InboxCapacity) return false;
            (_inputs ??= Interlocked.Exchange(ref _spareInputs, null) ?? []).Add(input);
            schedule = ScheduleLocked();
        }
        if (schedule) _worker.Schedule(this);
        return true;
    }

    /// <summary>
    /// Queues a proposal. Proposals queued while the worker is busy (persisting) reach the core together, so they are
    /// batched into one slot instead of one slot each. Bounded: beyond the capacity the caller is told to retry.
    /// </summary>
    public ProposeResult Propose(Command command)
    {
        bool schedule;
        lock (_gate)
        {
            if (_failed || _evicted) return ProposeResult.Stopped;
            if (_proposals?.Count >= _proposalCapacity) return ProposeResult.Full;
            (_proposals ??= []).Add(command);
            schedule = ScheduleLocked();
        }
        if (schedule) _worker.Schedule(this);
        return ProposeResult.Queued;
    }

    /// <summary>
    /// True when the caller must hand the group to its worker (it was not waiting there already); under the gate. A
    /// group whose step is in flight is not handed over again until that step advances it (<see cref="Advance"/>
    /// does): otherwise a post that lands while the worker is still gathering its step (other threads post at any
    /// time) puts the group in the same step twice, and the step's second Ready of the group, if it needs no fsync,
    /// would be handed out before the first (committed entries out of slot order) and its messages sent before the
    /// first one's records are durable.
    /// </summary>
    private bool ScheduleLocked()
    {
        if (_scheduled) return false;
        _scheduled = true;
        return !_stepping || _worker.PlantedBugs.HasFlag(EngineBug.TwiceInOneStep);
    }

    /// <summary>
    /// Posts <paramref name="input"/> and returns a task that completes once the step that ran it has ended: its
    /// messages handed to the network (after their fsync, when they needed one), or the replica stopped. A graceful
    /// stop waits for it: the silo's transport stops soon after the grains' deactivations, and a resigning activation's
    /// last messages (the commit index, the lease release) queued after that were dropped (session 28: the lease
    /// release of a grain whose resign step waited for a slow fsync never left, so its next activation waited out the
    /// whole lease).
    /// </summary>
    public Task PostUntilSentAsync(Func<PaxosReplica, Ready> input)
    {
        var sent = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        bool queued = Post(core =>
        {
            lock (_gate) (_afterStep ??= []).Add(sent);
            return input(core);
        });
        if (!queued) sent.TrySetResult();
        return sent.Task;
    }

    /// <summary>Ends the waits of <see cref="PostUntilSentAsync"/> whose inputs ran in the step that just ended (or the replica stopped).</summary>
    private void EndStepWaits()
    {
        List<TaskCompletionSource>? waits;
        lock (_gate)
        {
            waits = _afterStep;
            _afterStep = null;
        }
        if (waits is null) return;
        foreach (var wait in waits) wait.TrySetResult();
    }

    /// <summary>Runs <paramref name="work"/> on the worker (where the core may be touched) and returns its result.</summary>
    public Task<T> AskAsync<T>(Func<PaxosReplica, (T Result, Ready Ready)> work)
    {
        var done = new TaskCompletionSource<T>(TaskCreationOptions.RunContinuationsAsynchronously);
        bool queued = Post(core =>
        {
            try
            {
                var (result, ready) = work(core);
                done.SetResult(result);
                return ready;
            }
            catch (Exception e)
            {
                done.SetException(e);
                return new Ready();
            }
        });
        if (!queued) done.TrySetException(new ReplicaUnavailableException($"group {GroupId} is not accepting work on this silo"));
        return done.Task;
    }

    /// <summary>
    /// Whether a read may run now without a quorum round: this replica leads under a lease that has not ended, and
    /// the activation has applied every slot an earlier ballot may have chosen (<paramref name="applied"/>). Any call
    /// acknowledged before the read began was applied by the activation first, so the read sees it. When half the
    /// lease is gone, one renewal round is started in the background: held briefly so that it shares a step with
    /// other groups' renewals (<see cref="LeaseRenewals"/>), or posted at once when the lease is too short for that.
    /// </summary>
    public bool CanReadLocally(long applied)
    {
        var lease = _lease;
        long now = _worker.Clock.Now;
        if (now >= lease.Until || applied < lease.Floor) return false;
        // Read first: every read after the renewal point would otherwise take the cache line for an exchange.
        if (now >= lease.RenewFrom && Volatile.Read(ref _renewalPosted) == 0 && Interlocked.Exchange(ref _renewalPosted, 1) == 0
            && !_worker.Renewals.TryHold(this, now, lease.RenewFrom + (lease.Until - lease.RenewFrom) / 4))
        {
            PostRenewal();
        }
        return true;
    }

    /// <summary>Starts the renewal round <see cref="CanReadLocally"/> asked for (at once, or in a round of <see cref="LeaseRenewals"/>).</summary>
    internal void PostRenewal()
    {
        if (!Post(static core => core.RenewLease())) Volatile.Write(ref _renewalPosted, 0);
    }

    private void PublishLease()
    {
        long until = _core.LeaseExpiresAt;
        long floor = _core.LeaseReadFloor;
        if (until == _lease.Until && floor == _lease.Floor) return;
        _lease = new LeaseView(until, floor, _core.LeaseRenewalDueAt);
        Volatile.Write(ref _renewalPosted, 0);
    }

    /// <summary>
    /// Attaches the activation (or detaches, with null); must run on the worker (inside <see cref="AskAsync{T}"/>).
    /// A listener still attached when another attaches is told it was displaced: the replica's lease and committed
    /// entries now serve the newer one only, so the older one's state falls behind and its local reads would be stale
    /// (engine seed 529 of the short sweep: a second activation on the silo of a displaced one that still held the
    /// group's lease applied a write the first never saw, and the first answered a read without it).
    /// </summary>
    public void SetListener(IGroupListener? listener)
    {
        var previous = _listener;
        _listener = listener;
        if (previous is not null && listener is not null && !ReferenceEquals(previous, listener))
        {
            previous.OnDisplaced(new ReplicaUnavailableException($"group {GroupId}: another activation on this silo took the group"));
        }
    }

    public IGroupListener? Listener => _listener;

    // ---- The worker's side: only the group's worker calls these, one step at a time. ----

    /// <summary>
    /// Feeds the core everything that waits and returns the merged Ready (null when nothing waited or the group
    /// failed). The lease is published before anything is sent: a promise to a newer activation leaves only after
    /// this activation stopped serving local reads.
    /// </summary>
    internal Ready? RunInputs()
    {
        List<GroupInput>? inputs;
        List<Command>? proposals;
        lock (_gate)
        {
            _scheduled = false;
            if (_failed) return null;
            Invariant.Assert(!_stepping || _worker.PlantedBugs.HasFlag(EngineBug.TwiceInOneStep));
            _stepping = true;
            inputs = _inputs;
            proposals = _proposals;
            _inputs = null;
            _proposals = null;
        }
        LastActiveTick = _worker.Clock.Now;
        if (inputs is null && proposals is null) return null;
        // The first input's Ready collects the rest (each is new and the core keeps none): no merged copy per step.
        Ready? ready = null;
        if (_leases) _core.SetClock(_worker.Clock.Now);
        if (inputs is not null)
        {
            foreach (var input in inputs)
            {
                if (_retired)
                {
                    // Retired by an earlier input of this step (RetireIfAsync): no message reaches the core any more;
                    // asks still get their answer, and nothing they produce leaves the step.
                    if (input.Work is { } work) work(_core);
                    continue;
                }
                var next = input.Message is { } message ? _core.Step(message) : input.Work!(_core);
                if (ready is null) ready = next;
                else ready.Append(next);
            }
            if (inputs.Capacity <= SpareInputsCapacity)
            {
                inputs.Clear();
                Volatile.Write(ref _spareInputs, inputs);
            }
        }
        if (proposals is not null && !_retired)
        {
            _metrics?.ProposalBatch(proposals.Count);
            var next = _core.Propose(proposals);
            if (ready is null) ready = next;
            else ready.Append(next);
        }
        if (_leases) PublishLease();
        if (ready is not null && SendsToPeer(ready)) LastSentTick = _worker.Clock.Now;
        return ready;
    }

    private bool SendsToPeer(Ready ready)
    {
        if (!ready.HasMessages) return false;
        foreach (var m in ready.Messages)
        {
            if (m.To != _core.Id) return true;
        }
        return false;
    }

    /// <summary>
    /// Whether <paramref name="message"/> may leave before this step's records are durable: a leader's accepts under
    /// a ballot whose promise is already on disk, and a candidate's prepares (they are requests, not votes; the
    /// leader's own acceptance or promise comes back to it only after its append, see
    /// <see cref="ReplicaOptions.ParallelPersist"/>). An accept under a ballot not yet durable waits: after a crash
    /// that lost the promise, the same ballot could be used again for another value.
    /// </summary>
    internal bool MaySendBeforePersist(Message message) =>
        (message is Accept a && a.Ballot == _durablePromised && a.To != _core.Id)
        || (message is Prepare p && p.To != _core.Id)
        || (_worker.PlantedBugs.HasFlag(EngineBug.VoteBeforeFsync) && message.To != _core.Id);

    /// <summary>
    /// Whether nothing of <paramref name="ready"/> has to be durable before its messages leave and its effects are
    /// handed out: no entries, no snapshot, at most a hard state that only moves the commit index (its promise is the
    /// one already durable), and no message to a peer that would tell a commit index not yet on disk. Nothing waits
    /// for this replica's own commit index on disk: a slot is chosen because a majority holds its entry durably, and
    /// the entries the commit index covers are on disk from earlier steps (this group's previous step ended durable
    /// before this one began: a group is in one step at a time, see <see cref="ScheduleLocked"/>); a replica that
    /// loses it in a crash or an eviction learns it again from a leader's phase 1. But a peer that was TOLD a commit
    /// index may ask this replica for those slots (catch-up), which only a replica that knows them chosen can serve,
    /// so a commit index leaves in a message only once it is durable (<see cref="HardStateToPersist"/> writes it with
    /// the group's next append). A raised promise always waits. So does a commit index that brings a configuration
    /// into force (<see cref="BringsConfigIntoForce"/>).
    /// </summary>
    internal bool NeedsNoFsync(Ready ready)
    {
        if (_persistCommit && _core.CommitIndex > _durableCommit) return false;
        if (ready.HasEntries || ready.SnapshotToPersist is not null) return false;
        if (ready.HardState is { } hs && hs.Promised != _durablePromised && !_worker.PlantedBugs.HasFlag(EngineBug.PromiseWithoutFsync)) return false;
        if (_core.CommitIndex <= _durableCommit) return true;
        if (BringsConfigIntoForce()) return false;
        if (!ready.HasMessages) return true;
        foreach (var m in ready.Messages)
        {
            if (m.To != _core.Id) return false;
        }
        return true;
    }

    /// <summary>
    /// Whether the commit index moved, since the last one written, over the slot before a configuration comes into
    /// force: it is then written at once (one fsync per member and configuration change), not with the group's next
    /// append. A member that a move removes drops its replica once a majority of the configuration that removed it
    /// holds that slot's commit on disk (<see cref="PeerView.RemovalIsDurable"/>); until then the window's last slots
    /// are governed by the configuration with the removed member, and a replica whose commit index is behind them
    /// needs that configuration's quorum to lead. An idle group never appends again, so without this write the removed
    /// member would wait for ever, and a follower rebuilt after eviction or a crash would forget the commit index.
    /// </summary>
    private bool BringsConfigIntoForce()
    {
        var epochs = _core.Configs.Epochs;
        for (int i = epochs.Count - 1; i >= 0; i--)
        {
            long before = epochs[i].FromSlot - 1;
            if (before <= _durableCommit) return false;
            if (before <= _core.CommitIndex) return true;
        }
        return false;
    }

    /// <summary>
    /// The hard state to write with this step's append (called by the store, on the worker, while the worker waits
    /// for the append): the step's own, or, when the commit index moved in earlier steps that wrote nothing, the
    /// current one, so that every commit index a message of this step tells is on disk before it leaves.
    /// </summary>
    internal HardState? HardStateToPersist(Ready ready) =>
        _writing = ready.HardState ?? (_core.CommitIndex > _durableCommit ? new HardState(_core.Promised, _core.CommitIndex, _core.VoteFloor) : null);

    /// <summary>The step's records are durable (<paramref name="written"/>: it appended any; a step that needed no fsync may not).</summary>
    internal void Persisted(Ready ready, bool written)
    {
        if (written && _writing is { } w)
        {
            _durableCommit = Math.Max(_durableCommit, w.CommitIndex);
        }
        _writing = null;
        if (written) _persistCommit = false;
        if (written && ready.HardState is { } hs)
        {
            // A new ballot of this replica's own is a campaign it started (an activation, the rebalancer, an election).
            if (hs.Promised.ReplicaId == _core.Id && hs.Promised.CompareTo(_durablePromised) > 0)
            {
                _metrics?.Campaign();
                if (_logger.IsEnabled(LogLevel.Debug)) _campaign = new CampaignTrace(hs.Promised, _worker.Clock.Now);
            }
            _durablePromised = hs.Promised;
        }
        if (_campaign?.Observe(ready, _core.Id, _core.Role, _worker.Clock.Now) is { } summary)
        {
            LogCampaignEnded(_logger, GroupId, summary);
            _campaign = null;
        }
        if (ready.BecameLeader) _metrics?.LeaderChanged(gained: true);
        if (ready.LostLeadership) _metrics?.LeaderChanged(gained: false);
    }

    /// <summary>Hands the step's effects to the attached activation (which queues them; it never blocks the worker).</summary>
    internal void Deliver(Ready ready)
    {
        if (!InSlotOrder(ready)) return;
        if (_listener is not { } listener) return;
        try
        {
            listener.OnReady(ready);
        }
        catch (Exception e)
        {
            // The activation is gone or broken: detach it and make it step aside; the next activation replays the log.
            LogListenerFailed(_logger, e, GroupId);
            _listener = null;
            listener.OnFailed(e);
        }
    }

    /// <summary>
    /// Committed entries leave the engine once each and in slot order (the activation applies them as they come and
    /// skips slots it already has, so a slot handed out late would never be applied while the core counts it applied).
    /// A Ready out of order is a broken invariant: the replica stops, as for any other.
    /// </summary>
    private bool InSlotOrder(Ready ready)
    {
        if (ready.SnapshotToInstall is { } snapshot) _handedOutThrough = snapshot.Slot;
        if (!ready.HasCommitted) return true;
        foreach (var entry in ready.Committed)
        {
            if (entry.Slot != _handedOutThrough + 1)
            {
                Fail(new InvariantViolationException($"group {GroupId}: slot {entry.Slot} handed out after slot {_handedOutThrough}"));
                return false;
            }
            _handedOutThrough = entry.Slot;
        }
        return true;
    }

    /// <summary>After the step: what the runtime's timers need to know (only work in flight needs ticks).</summary>
    internal void Advance()
    {
        _needsTicks = _core.HasInFlightWork;
        _unsentCommit = _core.HasUnsentCommit;
        _isLeader = _core.IsLeader;
        _latestConfig = _core.Configs.Latest;
        _idle = _listener is null && !_core.HasInFlightWork && !_core.HasUnsentCommit && !_core.IsLeader && !_alwaysTick;
        _commitNotDurable = _core.CommitIndex > _durableCommit;
        if (Ticks && WantsTicks is { } wantsTicks) wantsTicks(this);
        EndStepWaits();
        bool schedule;
        lock (_gate)
        {
            _stepping = false;
            // Inputs posted while the step was in flight waited for it to end (see ScheduleLocked).
            schedule = _scheduled && !_failed && !_evicted && !_worker.PlantedBugs.HasFlag(EngineBug.TwiceInOneStep);
        }
        if (schedule) _worker.Schedule(this);
    }

    /// <summary>
    /// A failed fsync or a broken invariant: this replica stops voting rather than risk acknowledging lost data.
    /// </summary>
    internal void Fail(Exception e)
    {
        lock (_gate) _failed = true;
        LogGroupFailed(_logger, e, GroupId);
        _listener?.OnFailed(e);
        EndStepWaits();
    }

    /// <summary>
    /// Stops this replica for good because the log under it is being replaced (reopened after a failure): it takes no
    /// more inputs and its activation is told; a new replica is built from disk on next use.
    /// </summary>
    internal void Retire(Exception reason)
    {
        lock (_gate) _failed = true;
        _listener?.OnFailed(reason);
        EndStepWaits();
    }

    /// <summary>
    /// Stops this replica for good, in one step of its own, if <paramref name="left"/> holds for its core then; returns
    /// the slot its newest configuration is in force from when it stopped, null when it did not. Nothing that arrives
    /// after the check reaches the core, so a replica dropped because its group left it cannot have voted since in a
    /// configuration that names it again (the rebalancer decides from a status taken seconds earlier; session 23 traced
    /// a member re-added meanwhile, caught up, counted, then dropped: its group lost a majority).
    /// </summary>
    internal Task<(long LatestFromSlot, FormerReplica Former)?> RetireIfAsync(Func<PaxosReplica, bool> left) => AskAsync(core =>
    {
        if (!left(core)) return (((long, FormerReplica)?)null, new Ready());
        _retired = true;
        // In the step, as a failed fsync's Fail: the ask's task is complete when the step ends. What the replica leaves is
        // read here, after its last vote: nothing it produces from now on leaves the step.
        Retire(new ReplicaUnavailableException($"group {GroupId} left this silo"));
        return ((core.Configs.LatestFromSlot, FormerReplica.Of(core)), new Ready());
    });

    /// <summary>
    /// Leaves memory if the group has had no activation, nothing in flight, its commit told to followers and no input
    /// since <paramref name="idleSince"/>. Everything it knows is on disk (the WAL and its snapshot), so it is rebuilt
    /// from there on its next message or proposal. Returns whether it was evicted.
    /// </summary>
    internal bool TryEvict(long idleSince)
    {
        lock (_gate)
        {
            if (!_idle || _scheduled || _failed || _inputs is not null || _proposals is not null || LastActiveTick > idleSince) return false;
            // A step in flight has records the WAL index does not show yet: a rebuild now would start from a stale
            // index while this replica still sends the step's votes.
            if (_stepping && !_worker.PlantedBugs.HasFlag(EngineBug.EvictDuringPersist)) return false;
            _evicted = true;
            return true;
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Replica of group {GroupId} stopped after a failure; it no longer votes")]
    private static partial void LogGroupFailed(ILogger logger, Exception exception, string groupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The activation of group {GroupId} failed to take its effects; detached")]
    private static partial void LogListenerFailed(ILogger logger, Exception exception, string groupId);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId}: this replica {Summary}")]
    private static partial void LogCampaignEnded(ILogger logger, string groupId, string summary);
}

/// <summary>One input waiting for a group's step: a message for the core, or any other work on it.</summary>
internal readonly record struct GroupInput(Func<PaxosReplica, Ready>? Work, Message? Message);

/// <summary>What the worker last published about its lease, for reads on the activation's own thread.</summary>
internal sealed record LeaseView(long Until, long Floor, long RenewFrom)
{
    public static readonly LeaseView None = new(long.MinValue, long.MaxValue, long.MinValue);
}

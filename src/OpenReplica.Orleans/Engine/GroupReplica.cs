using Microsoft.Extensions.Logging;
using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>Receives a group's effects in log order; implemented by the grain activation that leads the group.</summary>
internal interface IGroupListener
{
    /// <summary>
    /// Called after the Ready's records are durable and its messages sent. Returns the application's snapshot bytes
    /// when the listener wants the log compacted at the current applied slot, else null.
    /// </summary>
    Task<byte[]?> OnReadyAsync(Ready ready);

    /// <summary>The replica stopped (a failed fsync, a broken invariant): fail waiting calls; nothing more will come.</summary>
    void OnFailed(Exception exception);
}

/// <summary>
/// One replica of one group on this silo: the pure core plus a single loop that feeds it. Inputs (messages from
/// peers, proposals, campaign, ticks) queue up; the loop drains what is queued, merges the Readys, makes them
/// durable with one append (group commit joins it with other groups' appends), sends, and then hands commits to
/// the attached activation. Persist-before-send and apply-in-order follow from the loop being sequential.
/// </summary>
internal sealed partial class GroupReplica
{
    public const int InboxCapacity = 65_536;

    /// <summary>How long the loop waits for the activation to apply one batch before it detaches it.</summary>
    public static readonly TimeSpan ListenerDeadline = TimeSpan.FromSeconds(60);

    // Inputs and proposals wait here until the loop drains them. Both lists exist only while something waits, and
    // no loop is parked while none does: an idle group is only its core and these few fields.
    private readonly Lock _gate = new();
    private List<Func<PaxosReplica, Ready>>? _inputs;
    private List<Command>? _proposals;
    private bool _draining;
    private readonly PaxosReplica _core;
    private readonly GroupStore _store;
    private readonly Action<string, Message> _send;
    private readonly ILogger _logger;
    private IGroupListener? _listener;
    private volatile bool _needsTicks;
    private volatile bool _isLeader;
    private volatile bool _unsentCommit;
    private readonly bool _alwaysTick;
    private volatile bool _failed;
    private readonly bool _leases;
    private volatile LeaseView _lease = LeaseView.None;
    private int _renewalPosted;
    private readonly Diagnostics.ReplicationInstruments? _instruments;

    public GroupReplica(string groupId, PaxosReplica core, GroupStore store, Action<string, Message> send, ILogger logger,
        IGroupListener? listener = null, bool alwaysTick = false, Diagnostics.ReplicationInstruments? instruments = null)
    {
        _instruments = instruments;
        _leases = core.LeasesEnabled;
        // Set before the loop starts, so the listener also sees what Start() replays (the meta group needs it).
        _listener = listener;
        _alwaysTick = alwaysTick;
        GroupId = groupId;
        _core = core;
        _store = store;
        _send = send;
        _logger = logger;
        Post(c => c.Start());
    }

    public string GroupId { get; }

    /// <summary>The core has work that needs ticks (retransmissions, phase 1, reads): the runtime ticks only such groups.</summary>
    public bool NeedsTicks => _alwaysTick || _needsTicks;

    /// <summary>Whether this replica led the group after its last batch (a hint for timers; the core decides).</summary>
    public bool IsLeader => _isLeader;

    /// <summary>This replica leads and chose slots its followers have not been told about yet (see <see cref="PaxosReplica.FlushCommit"/>).</summary>
    public bool HasUnsentCommit => _unsentCommit;

    public bool Failed => _failed;

    /// <summary>Queues an input. A full inbox drops it: peers retransmit, and a proposal times out and is retried.</summary>
    public bool Post(Func<PaxosReplica, Ready> input)
    {
        if (_failed) return false;
        lock (_gate)
        {
            if (_inputs?.Count >= InboxCapacity) return false;
            (_inputs ??= []).Add(input);
            if (!StartDrainLocked()) return true;
        }
        ScheduleDrain();
        return true;
    }

    /// <summary>
    /// Queues a proposal. Proposals queued while the loop is busy (persisting, applying) reach the core together,
    /// so they are batched into one slot instead of one slot each.
    /// </summary>
    public bool Propose(Command command)
    {
        if (_failed) return false;
        lock (_gate)
        {
            (_proposals ??= []).Add(command);
            if (!StartDrainLocked()) return true;
        }
        ScheduleDrain();
        return true;
    }

    /// <summary>True when the caller must start the loop (it was idle); under the gate.</summary>
    private bool StartDrainLocked()
    {
        if (_draining) return false;
        _draining = true;
        return true;
    }

    // Not Task.Run: the loop must not capture (and keep alive) the execution context of whichever call woke it.
    private void ScheduleDrain() => ThreadPool.UnsafeQueueUserWorkItem(static self => _ = self.DrainAsync(), this, preferLocal: false);

    /// <summary>Runs <paramref name="work"/> on the loop (where the core may be touched) and returns its result.</summary>
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
    /// lease is gone, one renewal round is started in the background.
    /// </summary>
    public bool CanReadLocally(long applied)
    {
        var lease = _lease;
        long now = HostClock.Now;
        if (now >= lease.Until || applied < lease.Floor) return false;
        if (now >= lease.RenewFrom && Interlocked.Exchange(ref _renewalPosted, 1) == 0 && !Post(core => core.RenewLease()))
        {
            Volatile.Write(ref _renewalPosted, 0);
        }
        return true;
    }

    private void PublishLease()
    {
        long until = _core.LeaseExpiresAt;
        long floor = _core.LeaseReadFloor;
        if (until == _lease.Until && floor == _lease.Floor) return;
        _lease = new LeaseView(until, floor, _core.LeaseRenewalDueAt);
        Volatile.Write(ref _renewalPosted, 0);
    }

    /// <summary>Attaches the activation; must run on the loop (inside <see cref="AskAsync{T}"/>).</summary>
    public void SetListener(IGroupListener? listener) => _listener = listener;

    public IGroupListener? Listener => _listener;

    /// <summary>
    /// The group's loop, running only while inputs wait: takes everything queued, merges the Readys, and carries
    /// them out (persist, send, apply) before taking more. Sequential, so persist-before-send and apply-in-order hold.
    /// </summary>
    private async Task DrainAsync()
    {
        while (true)
        {
            List<Func<PaxosReplica, Ready>>? inputs;
            List<Command>? proposals;
            lock (_gate)
            {
                inputs = _inputs;
                proposals = _proposals;
                _inputs = null;
                _proposals = null;
                if (inputs is null && proposals is null)
                {
                    _draining = false;
                    return;
                }
            }
            var ready = new Ready();
            try
            {
                if (_leases) _core.SetClock(HostClock.Now);
                if (inputs is not null) foreach (var input in inputs) ready.Append(input(_core));
                if (proposals is not null) _instruments?.ProposalBatch(proposals.Count);
                if (proposals is not null) ready.Append(_core.Propose(proposals));
                // Before anything is sent: a promise to a newer activation leaves here only after reads stopped.
                if (_leases) PublishLease();
                await HandleAsync(ready);
            }
            catch (Exception e)
            {
                // A failed fsync or a broken invariant: this replica stops voting rather than risk acknowledging lost data.
                // The loop stays marked as draining, so nothing starts it again.
                _failed = true;
                LogGroupFailed(_logger, e, GroupId);
                _listener?.OnFailed(e);
                return;
            }
            // Only work in flight needs time (retransmissions, phase 1, reads): an idle leader costs nothing.
            _needsTicks = _core.HasInFlightWork;
            _unsentCommit = _core.HasUnsentCommit;
            _isLeader = _core.IsLeader;
        }
    }

    private async Task HandleAsync(Ready ready)
    {
        if (ready.MustPersist) await _store.PersistAsync(GroupId, ready);
        foreach (var m in ready.Messages) _send(GroupId, m);
        if (_listener is not { } listener) return;
        byte[]? snapshot;
        try
        {
            // Bounded: an activation whose scheduler is gone must not stall the group's loop (and every later
            // activation on this silo) forever.
            snapshot = await listener.OnReadyAsync(ready).WaitAsync(ListenerDeadline);
        }
        catch (Exception e)
        {
            // The activation is gone, broken or stuck: detach it and make it step aside (it deactivates); the group
            // keeps its log and the next activation replays it.
            LogListenerFailed(_logger, e, GroupId);
            _listener = null;
            listener.OnFailed(e);
            return;
        }
        if (snapshot is not null)
        {
            var compacted = _core.CompactLog(snapshot);
            await HandleAsync(compacted);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Replica of group {GroupId} stopped after a failure; it no longer votes")]
    private static partial void LogGroupFailed(ILogger logger, Exception exception, string groupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The activation of group {GroupId} failed to apply; detached")]
    private static partial void LogListenerFailed(ILogger logger, Exception exception, string groupId);
}

/// <summary>What the loop last published about its lease, for reads on the activation's own thread.</summary>
internal sealed record LeaseView(long Until, long Floor, long RenewFrom)
{
    public static readonly LeaseView None = new(long.MinValue, long.MaxValue, long.MinValue);
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenReplica.Consensus;
using OpenReplica.Storage;
using Orleans;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The silo's side of every group it holds a replica of: creates group replicas on first use (from what the WAL
/// holds for them) on the engine worker they hash to, routes peers' messages to them, sends each engine step's
/// messages through the coalescing transport (one batch per peer silo), ticks the groups that have work in flight
/// (an idle group costs no timer), and lets groups idle for <see cref="ReplicatedGrainsOptions.IdleGroupEvictionAfter"/>
/// leave memory (they are rebuilt from the WAL on their next message or proposal).
/// </summary>
internal sealed partial class ReplicationRuntime(
    IOptions<ReplicatedGrainsOptions> options,
    ReplicaRoster roster,
    ReplicaTransport transport,
    IClusterMembershipService membership,
    RosterGroup rosterGroup,
    ReplicaIdentity identity,
    GroupBirth birth,
    Diagnostics.ReplicationInstruments instruments,
    ILocalSiloDetails localSilo,
    EntryClock entryClock,
    ILoggerFactory loggerFactory) : IReplicaMessageSink, IEngineNetwork, ILifecycleParticipant<ISiloLifecycle>, ILocalReplicaHealth
{
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(20);

    // Loads read the disk under the log's one lock, so more threads would mostly wait for it; two let one decode while
    // the other reads.
    private const int LoaderThreads = 2;

    private GroupTable? _table;
    // Scale-out: every grain group with a replica here (in memory, evicted, or only on disk; not the meta group). It
    // grows with every group this silo ever held, so it is compact: about the id's UTF-8 length + 8 bytes per group.
    private GroupIdSet _held = new();
    private readonly FirstContact _learning = new(); // groups whose first config is being asked for, with their messages meanwhile
    private GroupLoaders? _loaders; // a few threads that build replicas from the WAL for callers that must not block
    private ColdDeliveries? _cold; // messages for groups not in memory, delivered on the loaders
    private ForgottenGroups _forgotten = new(); // groups dropped here: learned again only from a newer view (kept on disk when Persisted)
    private readonly ILogger _logger = loggerFactory.CreateLogger<ReplicationRuntime>();
    private readonly CancellationTokenSource _stopping = new();
    private readonly Diagnostics.GroupMetrics _grainMetrics = new(instruments, rosterGroup: false);
    private readonly Diagnostics.GroupMetrics _rosterMetrics = new(instruments, rosterGroup: true);
    private GroupStore? _store;
    private ReplicationEngine? _engine;
    private long _startedAt; // on _engineClock: a restarted silo's lease guard runs from here

    /// <summary>The clock of leases, lease guards, birth claims and idle periods (a test may give one at another rate).</summary>
    private readonly MonotonicEngineClock _engineClock = options.Value.MonotonicClock is { } clock ? new(clock) : MonotonicEngineClock.System;

    public ReplicaRoster Roster => roster;

    /// <summary>This silo's address.</summary>
    public SiloAddress LocalSilo => localSilo.SiloAddress;

    /// <summary>Groups held in memory now.</summary>
    public int GroupCount => _table?.Count ?? 0;

    /// <summary>Evictions since the silo started: groups that left memory after their idle period (one evicted twice counts twice).</summary>
    public long GroupsEvicted => _table?.Evicted ?? 0;

    /// <summary>Groups built from what the WAL held for them (after a restart, or after they had left memory).</summary>
    public long GroupsRebuilt => _table?.Rebuilt ?? 0;

    /// <summary>Groups whose WAL index is in memory (Persisted mode; null for the volatile log, which is all memory).</summary>
    public int? WalResidentGroups => (Log as WriteAheadLog)?.ResidentGroups;

    /// <summary>The silo's log (diagnostics, tests); null before start.</summary>
    internal IReplicaLog? Log => _store?.Log;

    private GroupTable Table => _table ?? throw new InvalidOperationException("replicated grains are not started on this silo yet");

    /// <summary>The engine (workers, step counters); null before start.</summary>
    internal ReplicationEngine? Engine => _engine;

    public void Participate(ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe(nameof(ReplicationRuntime), ServiceLifecycleStage.RuntimeServices, StartAsync, StopAsync);
        // The roster is formed from membership through the management grain: only once this silo is active.
        lifecycle.Subscribe(nameof(ReplicationRuntime), ServiceLifecycleStage.Active, StartRosterLoop, static _ => Task.CompletedTask);
        lifecycle.Subscribe(nameof(ReplicationRuntime), ServiceLifecycleStage.Active, HoldStartForLeaseGuardAsync, static _ => Task.CompletedTask);
    }

    /// <summary>
    /// A silo restarted with its data directory finishes starting only once its replicas' lease guard has ended
    /// (<see cref="CoreOptions"/>: they may have promised a lease before the restart and forgot it, so until any such
    /// promise has run out they promise nobody, themselves included). The silo serves meanwhile (observers of one
    /// lifecycle stage run side by side; membership and the gateway are up); only the end of its start waits.
    /// Whoever rolls a cluster one silo at a time and stops the next silo when this start returns (the test kit's
    /// <c>RestartSiloAsync</c>, a host's readiness) therefore never stops it while the restarted replicas still
    /// abstain: a grain whose other replica is the one stopping would wait for this one's promise until the guard
    /// ended. (A roll without any pause waited out an 8 s lease in 4 of 12 runs of the rolling-restart test before
    /// this hold and <see cref="LeaseGuarded"/> placement; the rest of those waits were lease releases lost at the
    /// next silo's stop, fixed in session 28: docs/placement.md.)
    /// </summary>
    private async Task HoldStartForLeaseGuardAsync(CancellationToken cancellationToken)
    {
        long now = _engineClock.Now, until = LeaseGuardUntil;
        if (now >= until) return; // before the subtraction: long.MinValue (no guard) minus now wraps around
        long remaining = until - now;
        LogHoldingStart(_logger, remaining);
        await Task.Delay(TimeSpan.FromMilliseconds(remaining), options.Value.MonotonicClock ?? TimeProvider.System, cancellationToken);
    }

    private Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        IReplicaLog log = o.EffectiveMode == ReplicationMode.Persisted ? OpenPersistedLog() : new VolatileLog();
        if (o.EffectiveMode == ReplicationMode.Persisted) _forgotten = ForgottenGroups.InDirectory(o.DataDirectory!);
        _store = new GroupStore(log);
        // What recovery found while it scanned the log anyway: start-up reads the WAL once.
        _held = _store.TakeRecoveredGroups();
        _held.Remove(RosterGroup.GroupId);
        instruments.ObserveGroups(localSilo.SiloAddress.ToString(), () => new(GroupCount, ActiveGroupCount, EvictedGroupCount));
        instruments.ObserveLogHealth(localSilo.SiloAddress.ToString(), () => StartsActivations);
        _engine = new ReplicationEngine(o.EngineWorkers, o.EngineMaxGroupsPerStep, _store, this, _engineClock, _logger);
        _birthClaims = OpenBirthClaims();
        _table = new GroupTable(_store, _engine, _engineClock, o.MaxQueuedProposals, _logger, metrics: _grainMetrics);
        _loaders = new GroupLoaders(LoaderThreads, e => LogLoadFailed(_logger, e));
        _cold = new ColdDeliveries(DeliverCold, (groupId, e) => LogDeliveryFailed(_logger, e, groupId), _loaders.Schedule);
        instruments.ObserveGroupLoads(localSilo.SiloAddress.ToString(), () => _loaders?.Queued ?? 0, () => _cold?.Dropped ?? 0);
        _engine.Start(_stopping.Token);
        _startedAt = _engineClock.Now;
        entryClock.Now(); // its first mark: a wall clock stepped forward from now on is bounded for every activation here
        _ = Task.Run(TickLoopAsync);
        _ = Task.Run(WatchMembershipAsync);
        return Task.CompletedTask;
    }

    private Task StartRosterLoop(CancellationToken cancellationToken)
    {
        _ = Task.Run(RosterLoopAsync);
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        CloseBirthClaims();
        if (_engine is { } engine) await engine.StopAsync(cancellationToken);
        _loaders?.Dispose();
        if (_store is { } store) await store.DisposeAsync();
        _forgotten.Close();
    }

    /// <summary>The group name carries what every replica needs to compute the group's first configuration.</summary>
    public static string GroupIdOf(GrainId grainId, int replicas) => $"{replicas}|{grainId}";

    /// <summary>Reads a group name made by <see cref="GroupIdOf"/>; false for anything else (names come from peers).</summary>
    public static bool TryParseGroupId(string groupId, out GrainId grainId, out int replicas)
    {
        grainId = default;
        int bar = groupId.IndexOf('|');
        if (bar <= 0 || !int.TryParse(groupId.AsSpan(0, bar), System.Globalization.NumberStyles.None, null, out replicas) || replicas < 1) { replicas = 0; return false; }
        string key = groupId[(bar + 1)..];
        if (key.IndexOf('/') <= 0) return false;
        try
        {
            grainId = GrainId.Parse(key);
            return true;
        }
        catch (Exception e) when (e is ArgumentException or FormatException)
        {
            return false;
        }
    }

    public async Task<GroupReplica> GetOrCreateAsync(GrainId grainId, int replicas, CancellationToken cancellationToken)
    {
        string groupId = GroupIdOf(grainId, replicas);
        if (Table.Find(groupId) is { } existing) return existing;
        // Scale-out (issue 13): a replica on disk starts from its own records; a group this silo never held starts
        // from what its existing replicas know, or on its replica set in the current roster if it is new.
        if (_held.Contains(groupId) || Store.HasPersisted(groupId))
        {
            var genesis = await roster.GenesisConfigForAsync(grainId, replicas, cancellationToken);
            // Reads the disk: not on the activation's thread. The activation's bound ends the wait in the loaders' queue
            // (a load already running finishes and leaves the replica in memory for the next attempt).
            return await Loaders.RunAsync(() => GetOrCreate(groupId, genesis), cancellationToken: cancellationToken);
        }
        return await BornAsync(groupId, grainId, replicas, cancellationToken);
    }

    private GroupStore Store => _store ?? throw new InvalidOperationException("replicated grains are not started on this silo yet");

    // --- scale-out hooks (issue 13): what the rebalancer, the group lookup and decommission need from the runtime.

    /// <summary>Whether this silo holds a replica of the group (in memory, evicted, or on disk).</summary>
    internal bool Holds(string groupId) => _table?.Peek(groupId) is not null || _held.Contains(groupId);

    /// <summary>Every grain group this silo holds a replica of, in memory or only on disk.</summary>
    internal IReadOnlyList<string> HeldGroupIds() => _held.Snapshot();

    /// <summary>This silo's replica of the group, rebuilt from disk if needed; null when it holds none.</summary>
    internal GroupReplica? LoadHeld(string groupId)
    {
        if (Table.Find(groupId) is { } group) return group;
        if (groupId == RosterGroup.GroupId || !_held.Contains(groupId) || roster.Genesis is null) return null;
        if (!TryParseGroupId(groupId, out var grainId, out int replicas)) return null;
        return GetOrCreate(groupId, roster.GenesisConfigFor(grainId, replicas)!);
    }

    /// <summary>
    /// <see cref="LoadHeld"/>, reading the disk on a loader thread when the replica is not in memory: peers ask
    /// status and birth claims on the replica host's single turn, which a load must not hold up, and the rebalancer
    /// and activations run on the thread pool, which many loads at once starve. <paramref name="background"/>: behind
    /// the loads callers and peers wait for (the rebalancer's, which visit every group held here).
    /// </summary>
    internal async ValueTask<GroupReplica?> LoadHeldAsync(string groupId, bool background = false, CancellationToken cancellationToken = default)
    {
        if (Table.Find(groupId) is { } group) return group;
        if (!_held.Contains(groupId)) return null;
        return await Loaders.RunAsync(() => LoadHeld(groupId), background, cancellationToken);
    }

    private GroupLoaders Loaders => _loaders ?? throw new InvalidOperationException("replicated grains are not started on this silo yet");

    private ColdDeliveries Cold => _cold ?? throw new InvalidOperationException("replicated grains are not started on this silo yet");

    /// <summary>The grain and replica count a group id names.</summary>
    internal static (GrainId GrainId, int Replicas) GrainOf(string groupId) =>
        TryParseGroupId(groupId, out var grainId, out int replicas) ? (grainId, replicas) : throw new FormatException($"'{groupId}' is not a grain group id.");

    /// <summary>What this silo's replica of the group knows (a peer asks before it starts a replica of its own).</summary>
    internal async Task<GroupStatus?> StatusOfAsync(string groupId)
    {
        if (await LoadHeldAsync(groupId) is not { } group) return null;
        try
        {
            return await StatusOfAsync(group);
        }
        catch (ReplicaUnavailableException)
        {
            return null;
        }
    }

    /// <summary>What a replica knows of its group (read on the group's worker).</summary>
    internal static Task<GroupStatus> StatusOfAsync(GroupReplica group) =>
        group.AskAsync(core => (new GroupStatus(
            [.. core.Configs.Latest.Members], [.. core.Config.Members], core.IsLeader, group.Listener is not null, core.CommitIndex,
            core.Configs.LatestFromSlot, ConfigEpoch.Of(core.Configs), group.DurableCommit, core.HighestSlotHeld), new Ready()));

    /// <summary>
    /// Drops this silo's replica of a group it is no longer a member of (memory and disk), if
    /// <paramref name="stillLeft"/> still holds for it when it stops (see <see cref="GroupReplica.RetireIfAsync"/>: the
    /// decision was read before asking peers, and the group may have added this silo back meanwhile). The group is
    /// learned again only from a view newer than both what the replica knew and <paramref name="knownFromSlot"/> (the
    /// slot from which the newest configuration of the peer that said the group left is in force; see
    /// <see cref="ForgottenGroups"/>). Returns whether it was dropped.
    /// </summary>
    internal async Task<bool> ForgetAsync(string groupId, long knownFromSlot, Func<PaxosReplica, bool> stillLeft)
    {
        if (await LoadHeldAsync(groupId, background: true) is { } held)
        {
            (long LatestFromSlot, FormerReplica Former)? retired;
            try
            {
                retired = await held.RetireIfAsync(stillLeft);
            }
            catch (ReplicaUnavailableException)
            {
                // Failed meanwhile: it votes no more, and every vote it sent is on disk (persisted before it was sent).
                var (grainId, replicas) = GrainOf(groupId);
                retired = Table.RetireFailed(groupId, CoreOptions(roster.GenesisConfigFor(grainId, replicas)!), stillLeft);
            }
            if (retired is not { } left) return false;
            _forgotten.Forgot(groupId, Math.Max(left.LatestFromSlot, knownFromSlot), left.Former);
        }
        else if (knownFromSlot > 0)
        {
            _forgotten.Forgot(groupId, knownFromSlot);
        }
        _held.Remove(groupId);
        if (Table.TryRemove(groupId, out var removed)) removed.Post(core => core.Resign());
        await Store.ForgetAsync(groupId);
        return true;
    }

    /// <summary>Starts a replica of a group a peer's message names, from the configuration that peer knows.</summary>
    private async Task LearnGroupAsync(SiloAddress from, string groupId)
    {
        bool started = false;
        try
        {
            if (await birth.StatusFromPeerAsync(from, groupId) is not { } sender) return;
            if (_forgotten.ConfigToLearn(groupId, sender, roster.LocalReplicaId) is not { } configs)
            {
                if (sender.Latest.Contains(roster.LocalReplicaId)) LogStaleView(_logger, groupId, from, sender.LatestFromSlot);
                return;
            }
            // A replica dropped here may have written after its drop (a snapshot its activation was saving then): the
            // log then still counts a snapshot of the old replica, and the slot-0 one below would be refused for ever.
            var dropped = _forgotten.NoteOf(groupId);
            if (dropped is not null) await Store.ForgetAsync(groupId);
            // The configurations are an existing replica's, never a new one: only a birth that proceeded starts a group
            // (docs/architecture.md, "Birth of a group"), so a claim this silo granted for another proposal is moot.
            await Store.SaveInitialConfigAsync(groupId, configs, dropped);
            SettleBirth(groupId);
            GetOrCreate(groupId, configs.Latest);
            _forgotten.Held(groupId);
            started = true;
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            LogLearnGroupFailed(_logger, e, groupId);
        }
        finally
        {
            // The messages that arrived meanwhile (the one that named the group first) go to the new replica, as if
            // the network had delayed them; without a replica they are dropped and their senders retransmit.
            var held = _learning.Finish(groupId);
            if (started)
            {
                foreach (var message in held) Deliver(from, groupId, message);
            }
        }
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId}: not started from the view of {Silo} (newest configuration in force from slot {FromSlot}): this silo forgot the group at a newer one, so that peer lags")]
    private static partial void LogStaleView(ILogger logger, string groupId, SiloAddress silo, long fromSlot);

    [LoggerMessage(Level = LogLevel.Error, Message = "A group loader's work failed")]
    private static partial void LogLoadFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not deliver a message to group {GroupId}: dropped (its sender retransmits)")]
    private static partial void LogDeliveryFailed(ILogger logger, Exception exception, string groupId);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not start a replica of group {GroupId} named by a peer")]
    private static partial void LogLearnGroupFailed(ILogger logger, Exception exception, string groupId);

    /// <summary>
    /// The group's replica on this silo: the one in memory, or a new one built from what the WAL holds for the group
    /// (after a restart or after it left memory) or, for a group new to this silo, from its genesis configuration.
    /// </summary>
    private GroupReplica GetOrCreate(string groupId, ClusterConfig config)
    {
        bool meta = groupId == RosterGroup.GroupId;
        var group = Table.GetOrCreate(groupId,
            () => meta ? RosterGroup.CoreOptions(roster.LocalReplicaId, config) : CoreOptions(config),
            meta ? MakeMetaGroup : null);
        if (!meta) _held.Add(groupId);
        return group;
    }

    private GroupReplica MakeMetaGroup(string groupId, PaxosReplica core, EngineWorker worker)
    {
        var group = new GroupReplica(groupId, core, worker, options.Value.MaxQueuedProposals, _logger, rosterGroup, alwaysTick: true, _rosterMetrics);
        rosterGroup.Attach(group);
        return group;
    }

    /// <summary>
    /// Diagnostic (tests, tools): the entries this silo's replica of <paramref name="groupId"/> knows to be chosen,
    /// above its snapshot, read on the group's loop. Empty when the silo holds no replica of the group.
    /// </summary>
    internal Task<IReadOnlyList<LogEntry>> ChosenEntriesAsync(string groupId) =>
        _table?.Peek(groupId) is { } group
            ? group.AskAsync(core => ((IReadOnlyList<LogEntry>)core.Entries.Where(e => e.Chosen || e.Slot <= core.CommitIndex).ToList(), new Ready()))
            : Task.FromResult<IReadOnlyList<LogEntry>>([]);

    /// <summary>Diagnostic (tests, tools): the state of this silo's replica of the group, read on its loop.</summary>
    internal Task<string> DescribeAsync(string groupId) =>
        _table?.Peek(groupId) is { } group
            ? group.AskAsync(core => ($"{core} listener={(group.Listener is null ? "none" : "attached")} failed={group.Failed}", new Ready()))
            : Task.FromResult("no replica");

    /// <summary>Groups led by an activation on this silo (their replica here has a listener).</summary>
    public int ActiveGroupCount => _table is null ? 0 : _table.Groups.Count(g => g.Listener is not null and not RosterGroup);

    /// <summary>
    /// Grain groups this silo holds a replica of on disk only, now: evicted after their idle period, or not loaded since
    /// a restart (each is rebuilt from disk on its next message or activation). A gauge, unlike
    /// <see cref="GroupsEvicted"/>, which counts every eviction since the silo started: a group evicted and rebuilt
    /// twice counted twice there, and a restarted silo's untouched groups not at all.
    /// </summary>
    public int EvictedGroupCount
    {
        get
        {
            if (_table is not { } table) return 0;
            int grainGroupsInMemory = table.Count - (table.Peek(RosterGroup.GroupId) is null ? 0 : 1);
            return Math.Max(0, _held.Count - grainGroupsInMemory); // a group is put in the table just before it is held
        }
    }

    /// <summary>Status (tools, health checks): up to <paramref name="max"/> group replicas in memory here, each read on its loop.</summary>
    internal Task<GroupReplicaStatus[]> DescribeGroupsAsync(int max) =>
        Task.WhenAll(Table.Groups.Where(g => !g.Failed).Take(max).Select(g => g.AskAsync(core => (new GroupReplicaStatus(
            g.GroupId, core.IsLeader, core.CommitIndex, Math.Max(core.CommitIndex, core.Entries.LastOrDefault()?.Slot ?? core.SnapshotSlot),
            [.. core.Config.Members]), new Ready()))));

    /// <summary>Diagnostic: this silo's replica of the group, if it holds one (tests).</summary>
    internal GroupReplica? GroupOrNull(string groupId) => _table?.Peek(groupId);

    // A silo back with its data directory may have granted leases before it stopped: it supports no new
    // activation until they have surely ended (a new identity never granted any).
    private ReplicaOptions CoreOptions(ClusterConfig config) =>
        GrainGroupOptions(roster.LocalReplicaId, config, options.Value, LeaseGuardUntil);

    /// <summary>The core options of a grain's group (the silo and the simulator build them alike).</summary>
    internal static ReplicaOptions GrainGroupOptions(long replicaId, ClusterConfig config, ReplicatedGrainsOptions o, long leaseGuardUntil) => new()
    {
        ReplicaId = replicaId,
        InitialConfig = config,
        Window = o.Window,
        MaxBatchCommands = o.MaxBatchCommands,
        AcceptSpares = o.AcceptSpares,
        ElectionTimeoutTicks = 0, // grain groups lead on request: the activation campaigns
        // Nobody waits for a grain group's heartbeats (no elections): a busy group's accepts carry the commit index
        // and a read sends its own round at once, so the heartbeat on a tick only retransmits, like an accept.
        HeartbeatTicks = 5,
        RetransmitTicks = 5,
        RandomSeed = (ulong)replicaId,
        LeaseDuration = HostClock.ToTicks(o.LeaseDuration),
        InitialLeaseGuardUntil = leaseGuardUntil,
    };

    private long LeaseTicks => HostClock.ToTicks(options.Value.LeaseDuration);

    /// <summary>
    /// True for one lease after this silo restarted with its data (<see cref="CoreOptions"/>: its replicas promise
    /// nobody, themselves included, until then). Placement and <see cref="ConsensusCallReplicator"/> keep activations
    /// off this silo meanwhile: one placed here campaigned, lost to its own guard and served only when the guard ended
    /// (7.6 s with 8 s leases, the rolling-restart test without its pause under load in session 27).
    /// </summary>
    public bool LeaseGuarded => _engineClock.Now < LeaseGuardUntil;

    /// <summary>
    /// Why this silo should host no activation now (<see cref="ILocalReplicaHealth"/>): its replicas' lease guard after
    /// a restart (<see cref="LeaseGuarded"/>), or a failing log (<see cref="StartsActivations"/>); null when it may.
    /// </summary>
    public string? UnfitReason =>
        LeaseGuarded ? "this silo restarted less than a lease ago"
        : !StartsActivations ? "this silo's write-ahead log is failing"
        : null;

    /// <summary>Until when (engine clock) this silo's replicas guard against every candidate; long.MinValue: never.</summary>
    private long LeaseGuardUntil => LeaseTicks > 0 && identity.Restored ? _startedAt + LeaseTicks : long.MinValue;

    public void OnMessages(SiloAddress from, IReadOnlyList<ReplicaEnvelopeItem> items)
    {
        // Peers' batches pass InboundAdmission, which decodes and calls Deliver; this path is for direct callers.
        foreach (var item in items)
        {
            var message = WireCodec.DecodeMessage(item.Payload);
            if (message.To != roster.LocalReplicaId) continue; // addressed to a replica this silo no longer is
            Deliver(from, item.GroupId, message);
        }
    }

    /// <summary>Hands one decoded message to this silo's replica of <paramref name="groupId"/>, creating it on first contact.</summary>
    internal void Deliver(SiloAddress from, string groupId, Message message)
    {
        if (Cold.TryJoin(from, groupId, message)) return; // behind its group's earlier messages, which wait for the replica
        // The common case: the replica is in memory.
        if (Table.TryPost(groupId, message)) return;
        // In memory but refused (its inbox is full, or it stopped): dropped here, as before there were loaders, and its
        // sender retransmits. Only a replica that must be built waits for a loader, not an overloaded one.
        if (Table.Peek(groupId) is { Evicted: false }) return;
        Cold.Enqueue(from, groupId, message);
    }

    /// <summary>
    /// A message for a group not in memory, on a loader thread (<see cref="ColdDeliveries"/>): its replica is
    /// built from the WAL, or learned from the sender for a group new to this silo, and then takes the message.
    /// </summary>
    private void DeliverCold(SiloAddress from, string groupId, Message message)
    {
        if (_stopping.IsCancellationRequested) return;
        Table.Deliver(groupId, core => core.Step(message), () =>
        {
            if (roster.Genesis is not { } genesisRoster)
            {
                _ = roster.ResolveAsync(_stopping.Token); // learn it; the sender retransmits meanwhile
                return null;
            }
            if (groupId == RosterGroup.GroupId) return GetOrCreate(groupId, genesisRoster); // this silo was added to the roster
            if (LoadHeld(groupId) is { } held) return held;
            // Scale-out: start from the configuration the sender knows (asked asynchronously); the message waits for it.
            bool first = _learning.TryStart(groupId);
            _learning.Hold(groupId, message);
            if (first) _ = LearnGroupAsync(from, groupId);
            return null;
        });
    }

    /// <summary>Sends one engine step's messages: one batch per peer silo, carrying every group's messages for it.</summary>
    void IEngineNetwork.Send(IReadOnlyList<(GroupReplica Group, Message Message)> messages)
    {
        var bySilo = new Dictionary<SiloAddress, List<ReplicaEnvelopeItem>>();
        bool unknown = false;
        foreach (var (group, message) in messages)
        {
            string groupId = group.GroupId;
            if (roster.RouteOf(message.To) is not { } silo)
            {
                // Unknown address (the replica's silo is dead or not yet seen): drop; the core retransmits.
                unknown = true;
                continue;
            }
            if (!bySilo.TryGetValue(silo, out var items)) bySilo[silo] = items = [];
            items.Add(new ReplicaEnvelopeItem(groupId, WireCodec.Encode(message)));
        }
        foreach (var (silo, items) in bySilo) transport.Send(silo, items);
        if (unknown) _ = roster.RefreshAddressesAsync();
    }

    private async Task TickLoopAsync()
    {
        using var timer = new PeriodicTimer(TickInterval);
        try
        {
            long evictAfter = HostClock.ToTicks(options.Value.IdleGroupEvictionAfter);
            for (long tick = 1; await timer.WaitForNextTickAsync(_stopping.Token); tick++)
            {
                if (tick % LogCheckTicks == 0) MaybeReopenLog();
                Table.OnTick(tick, evictAfter, (long)TickInterval.TotalMilliseconds);
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>
    /// Forms or learns the roster, hosts the meta group on roster members, lets its leader replace replicas gone too
    /// long, and keeps silos outside the roster up to date with the newest roster.
    /// </summary>
    private async Task RosterLoopAsync()
    {
        try
        {
            await roster.ResolveAsync(_stopping.Token);
            await roster.RefreshAddressesAsync();
            int tick = 0;
            while (!_stopping.IsCancellationRequested)
            {
                bool member = roster.Current!.Contains(roster.LocalReplicaId) || roster.Genesis!.Contains(roster.LocalReplicaId);
                if (member && rosterGroup.Group is null) GetOrCreate(RosterGroup.GroupId, roster.Genesis!);
                rosterGroup.CheckRoster();
                // Scale-out: a silo outside the roster (or just removed from it: the meta group sends it nothing) asks a member,
                // or any live silo when no member answers.
                bool outside = rosterGroup.Group is null || !roster.Current!.Contains(roster.LocalReplicaId);
                // At once on the first pass: until then a new silo places grains on the genesis roster.
                if ((outside || roster.MissesDomains) && tick++ % 4 == 0) await roster.LearnNewerFromPeersAsync();
                await Task.Delay(RosterGroup.CheckInterval, _stopping.Token);
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            LogRosterLoopFailed(_logger, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Roster loop stopped")]
    private static partial void LogRosterLoopFailed(ILogger logger, Exception exception);

    private async Task WatchMembershipAsync()
    {
        try
        {
            await foreach (var _ in membership.MembershipUpdates.WithCancellation(_stopping.Token))
            {
                await roster.RefreshAddressesAsync();
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            LogMembershipWatchFailed(_logger, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Replica address watcher stopped")]
    private static partial void LogMembershipWatchFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Information, Message = "This silo restarted with its identity and leases are on: its start completes in {Milliseconds} ms, when its replicas' lease guard ends (they promise nobody until then)")]
    private static partial void LogHoldingStart(ILogger logger, long milliseconds);
}

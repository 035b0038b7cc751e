using Microsoft.Extensions.Logging;
using OpenReplica.Consensus;
using OpenReplica.Orleans;
using OpenReplica.Orleans.Replication;
using OpenReplica.Storage;

namespace OpenReplica.Simulation.Engine;

/// <summary>
/// One silo of an engine run, built from the real parts a silo builds: its write-ahead log (on a
/// <see cref="SimFileSystem"/>, the writer driven by the simulated disk's fsync cycle instead of a thread), the
/// <see cref="GroupStore"/>, the <see cref="ReplicationEngine"/> with its workers' real loops, and the
/// <see cref="GroupTable"/> with its ticks and idle eviction, all on this incarnation's <see cref="SimContext"/>.
/// Only the Orleans parts are replaced: the transport (<see cref="EngineSimulation.SendBatch"/>) and the
/// placement of activations (the world's directory).
/// </summary>
internal sealed partial class SimSilo(long id, EngineSimulation world) : IEngineNetwork, IEngineClock
{
    public const string DataDirectory = "/sim/wal";

    private WriteAheadLog? _wal;
    private GroupTable? _table;
    private CancellationTokenSource? _stopping;
    private long _tick;

    public long Id { get; } = id;

    public SimFileSystem Disk { get; } = new();

    /// <summary>The silo's log memory budget (the production default: far above what a simulation's logs hold).</summary>
    public LogMemoryBudget LogMemory { get; } = new(world.Options.LogMemoryBudget);

    /// <summary>The entry times its activations stamp (one per silo, as a real silo has; simulated time).</summary>
    public EntryClock EntryClock { get; } = new(world.Time);

    public SimContext? Context { get; private set; }

    public bool IsUp => Context is { Dead: false } && _table is not null;

    /// <summary>Stopped for good (a graceful stop that ran out of its deadline): never restarted.</summary>
    public bool Gone { get; private set; }

    public int Incarnation { get; private set; }

    public GroupTable Table => _table ?? throw new InvalidOperationException($"silo {Id} is down");

    public long Now => world.Scheduler.Now;

    /// <summary>Starts an incarnation from what the disk kept: the WAL recovers, groups are rebuilt on demand.</summary>
    public void Boot()
    {
        Incarnation++;
        _bootedAt = world.Scheduler.Now;
        _learning = new FirstContact();
        var context = new SimContext(world.Scheduler, $"silo{Id}#{Incarnation}");
        Context = context;
        world.Scheduler.At(0, () =>
        {
            var faults = world.Faults;
            _wal = WriteAheadLog.Open(new WalOptions { Directory = DataDirectory, FileSystem = Disk, ManualWriter = true, SegmentBytes = faults.SegmentBytes,
                // Segments are reclaimed a few records at a time, so appends and crashes fall between the steps.
                ReclaimStepBytes = 2 * 1024 });
            var store = new GroupStore(_wal);
            var engine = new ReplicationEngine(faults.Workers, faults.MaxGroupsPerStep, store, this, this, world.Logger);
            _stopping = new CancellationTokenSource();
            _table = new GroupTable(store, engine, this, world.Options.MaxQueuedProposals, world.Logger, StableStringComparer.Instance);
            foreach (var worker in engine.Workers)
            {
                worker.PlantedBugs = world.Bugs;
                worker.WhileGathering = DeliverMidStep;
                _ = worker.RunAsync(_stopping.Token);
            }
            _tick = 0;
            ScheduleTick(context);
            ScheduleDiskCycle(context);
        }, context);
    }

    /// <summary>The process dies: its context (continuations, timers) with it, and the disk keeps only what was synced.</summary>
    public void Crash(bool forGood = false)
    {
        Gone |= forGood;
        if (Context is { } context) context.Dead = true;
        _stopping?.Cancel();
        Disk.Crash(world.Random, tornTails: true);
        _midStep.Clear();
        _wal = null;
        _table = null;
        _stopping = null;
    }

    /// <summary>This silo's replica of <paramref name="groupId"/>, built (from the WAL, or new) if it is not in memory.</summary>
    public GroupReplica GroupFor(string groupId) => Table.GetOrCreate(groupId, () => CoreOptions(world.ConfigOf(groupId)));

    /// <summary>The core options of a grain group's replica here, as the silo builds them from <paramref name="config"/>.</summary>
    private ReplicaOptions CoreOptions(ClusterConfig config)
    {
        var options = ReplicationRuntime.GrainGroupOptions(Id, config, world.Options, LeaseGuardUntil);
        if (world.Faults.CatchUpEntries > 0) options.MaxCatchUpEntries = world.Faults.CatchUpEntries;
        return options;
    }

    // As on a silo back with its data directory: an incarnation after a crash may have granted leases before it, so
    // it votes for no new leader until they have surely ended (ReplicationRuntime.CoreOptions).
    private long LeaseGuardUntil => world.Faults.LeaseMs > 0 && Incarnation > 1 ? _bootedAt + world.Faults.LeaseMs : long.MinValue;

    private long _bootedAt;

    // Batches that arrive while a worker gathers its step (on a silo, the transport's threads post at any time).
    private readonly List<(long From, IReadOnlyList<(string GroupId, Message Message)> Batch)> _midStep = [];

    /// <summary>
    /// A batch from a peer silo: each message goes to its group (rebuilt if it left memory). Now and then it lands in
    /// the middle of a worker's step instead (<see cref="EngineWorker.WhileGathering"/>): posted after some groups of
    /// the step already ran their inputs, as the transport's threads do on a silo. Delivered 1 ms later at most.
    /// </summary>
    public void Receive(long from, IReadOnlyList<(string GroupId, Message Message)> batch)
    {
        if (world.Random.Chance(world.Faults.MidStepArrivalRate))
        {
            _midStep.Add((from, batch));
            if (_midStep.Count == 1 && Context is { } context) world.Scheduler.At(1, DeliverMidStep, context);
            return;
        }
        DeliverNow(from, batch);
    }

    private void DeliverMidStep()
    {
        if (_midStep.Count == 0 || !IsUp) return;
        var arrived = _midStep.ToList();
        _midStep.Clear();
        foreach (var (from, batch) in arrived) DeliverNow(from, batch);
    }

    /// <summary>Each message to its group's replica here; a group this silo holds no replica of is learned from the sender first.</summary>
    private void DeliverNow(long from, IReadOnlyList<(string GroupId, Message Message)> batch)
    {
        foreach (var (groupId, message) in batch)
        {
            if (message.To != Id) continue;
            if (Holds(groupId)) Table.Deliver(groupId, core => core.Step(message), () => GroupFor(groupId));
            else LearnOnFirstContact(from, groupId, message);
        }
    }

    void IEngineNetwork.Send(IReadOnlyList<(GroupReplica Group, Message Message)> messages)
    {
        if (!IsUp) return;
        foreach (var (group, message) in messages)
        {
            // An evicted replica must be silent: everything it knew is on disk, and a replica rebuilt from there may
            // already speak for the group. A step still in flight when it left would make it speak from a stale index.
            if (group.Evicted)
            {
                world.Fail(new SimulationFailure("eviction", $"silo {Id}: the evicted replica of {group.GroupId} sent {TraceFormat.Describe(message)} after it left memory"));
            }
        }
        var sent = messages.Select(m => (m.Group.GroupId, m.Message)).ToList();
        world.Oracle.CheckVotes(this, sent);
        // One batch per peer silo for the whole step, as the silo's transport sends it.
        foreach (var peer in sent.GroupBy(m => m.Message.To))
        {
            world.SendBatch(Id, peer.Key, [.. peer]);
        }
    }

    private void ScheduleTick(SimContext context) =>
        world.Scheduler.At(EngineSimulation.TickInterval, () =>
        {
            Table.OnTick(++_tick, world.Faults.EvictAfter, EngineSimulation.TickInterval);
            ScheduleTick(context);
        }, context);

    /// <summary>
    /// The disk's fsync cycle: each cycle writes and syncs what the WAL queued as one batch (group commit), and
    /// takes 1..FsyncMax ms, now and then far longer (a stalled disk).
    /// </summary>
    private void ScheduleDiskCycle(SimContext context)
    {
        var faults = world.Faults;
        long took = 1 + world.Random.Next(0, faults.FsyncMax);
        if (world.FaultsOn && world.Random.Chance(faults.FsyncStallRate)) took += world.Random.Next(100, 1000);
        world.Scheduler.At(took, () =>
        {
            _wal!.RunWriterOnce();
            ScheduleDiskCycle(context);
        }, context);
    }
}

/// <summary>A string hash that is the same in every process (FNV-1a), so group tables iterate alike on every replay.</summary>
internal sealed class StableStringComparer : IEqualityComparer<string>
{
    public static readonly StableStringComparer Instance = new();

    public bool Equals(string? x, string? y) => string.Equals(x, y, StringComparison.Ordinal);

    public int GetHashCode(string s)
    {
        uint hash = 2166136261;
        foreach (char c in s) hash = (hash ^ c) * 16777619;
        return (int)hash;
    }
}

using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;
using OpenReplica.Checker;
using OpenReplica.Consensus;
using OpenReplica.Orleans;
using OpenReplica.Orleans.Diagnostics;
using OpenReplica.Orleans.Replication;
using Orleans.Serialization;

namespace OpenReplica.Simulation.Engine;

/// <summary>The outcome of one engine seed.</summary>
public sealed record EngineSimulationResult(ulong Seed, SimulationFailure? Failure, int Operations, long FaultsInjected,
    long BatchesDelivered, long GroupsEvicted, long GroupsRebuilt, long Steps, long GroupSteps, int ReplicasCompacted, long LeaseReads, long RenewalsHeld, EngineFaultModel Faults,
    int ConfigChanges = 0, int ReAdds = 0, int Decommissions = 0, int LateDrops = 0, int LateDropsRefused = 0)
{
    public bool Passed => Failure is null;
}

/// <summary>
/// One deterministic run of several silos' replication engines (the real engine, WAL, grain sessions), many grains
/// at once, clients, and the faults of <see cref="EngineFaultModel"/>, driven by one seed on one thread in simulated
/// time, some of the groups moving between silos (<see cref="GroupMover"/>). A safety phase with faults is followed by a
/// liveness phase without them (every call and every move must finish, so every group they need elects a leader), an idle
/// phase (every group must leave memory on every silo) and a read-back phase (every key read through an activation
/// rebuilt from the WAL). Then: no error logged by the engine, the replicas of every group agree on every chosen
/// slot, and the client history is linearizable.
/// </summary>
public sealed partial class EngineSimulation
{
    public const long TickInterval = 20;
    public const long CallTimeout = 500;
    public const long ActivationTimeout = 1_000;
    /// <summary>Simulated time of the safety phase (faults on) of a long run; the CI sweep runs <see cref="ShortSafetyPhaseTime"/>.</summary>
    public const long SafetyPhaseTime = 8_000;
    public const long ShortSafetyPhaseTime = 2_500;
    public const long LivenessBound = 20_000;

    private static readonly Lazy<Serializer> SharedSerializer = new(() =>
        new ServiceCollection().AddSerializer(b => b.AddAssembly(typeof(GrainSession).Assembly))
            .BuildServiceProvider().GetRequiredService<Serializer>());

    private readonly Action<string>? _trace;
    private readonly List<SimSilo> _silos = [];
    private readonly Dictionary<string, ClusterConfig> _configs = [];
    // Reconfiguration (EngineFaultModel.MovedGroups): each moved group's replica set (where placement starts its
    // activation), the silo placement prefers there (the member a move added), and the movers.
    private readonly Dictionary<string, ClusterConfig> _targets = [];
    private readonly Dictionary<string, long> _preferred = [];
    private readonly List<GroupMover> _movers = [];
    private int _reAdds;
    private int _decommissions;
    private int _lateDrops, _lateDropsRefused;
    private readonly Dictionary<string, SimActivation> _directory = [];
    // Activations the directory moved away from while they still ran (duplicates): Orleans collects them when idle too.
    private readonly List<SimActivation> _displaced = [];
    private readonly Dictionary<string, string> _lastWritten = [];
    private readonly Dictionary<(string Group, long Position), (CallId Call, string Payload, long Silo)> _applied = [];
    private readonly HashSet<(long From, long To)> _blocked = [];
    private readonly List<EngineClient> _clients = [];
    private readonly SimLogger _logger;
    private long _partitionEndsAt = -1;
    private SimulationFailure? _failure;
    private long _evictedBeforeRestarts;
    private long _rebuiltBeforeRestarts;
    private long _stepsBeforeRestarts;
    private long _groupStepsBeforeRestarts;
    private long _renewalsHeldBeforeRestarts;
    private int _replicasCompacted;

    /// <summary>Reads answered under the leader's lease, without a quorum round (the checker judges them like the others).</summary>
    internal long LeaseReads { get; set; }

    internal EngineSimulation(ulong seed, EngineBug bugs = EngineBug.None, Action<string>? trace = null, long safetyPhase = SafetyPhaseTime)
    {
        Seed = seed;
        SafetyPhase = safetyPhase;
        Bugs = bugs;
        _trace = trace;
        Random = new DeterministicRandom(seed);
        Faults = EngineFaultModel.FromSeed(seed);
        Scheduler = new SimScheduler();
        _logger = new SimLogger(this);
        Options = new ReplicatedGrainsOptions
        {
            Window = Faults.Window,
            MaxBatchCommands = Faults.MaxBatchCommands,
            SnapshotEveryCommands = Faults.RareSnapshots ? 1_000_000 : Faults.SnapshotEveryCommands,
            SnapshotOnDeactivationAfterCommands = Faults.RareSnapshots ? 0 : ReplicatedGrainsOptions.DefaultSnapshotOnDeactivationAfterCommands,
            DigestEveryCommands = Faults.DigestEveryCommands,
            LeaseDuration = TimeSpan.FromMilliseconds(Faults.LeaseMs),
            IdleGroupEvictionAfter = TimeSpan.FromMilliseconds(Faults.EvictAfter),
            AcceptSpares = Faults.AcceptSpares,
        };
        Time = new SimTimeProvider(Scheduler);
        Oracle = new DurabilityOracle(this);
        Instruments = new ReplicationInstruments(null);
        Divergence = new DivergenceMonitor(Microsoft.Extensions.Options.Options.Create(Options), NullLogger<DivergenceMonitor>.Instance, new SimMeterFactory());
        for (int g = 0; g < Faults.Groups; g++)
        {
            var members = Enumerable.Range(1, Faults.Silos).Select(i => (long)i).OrderBy(_ => Random.NextULong()).Take(Faults.Replicas).Order();
            _configs[$"g{g}"] = new ClusterConfig(members);
        }
        GroupIds = [.. _configs.Keys];
    }

    public ulong Seed { get; }

    /// <summary>How long faults are injected (simulated milliseconds): part of what a seed replays.</summary>
    public long SafetyPhase { get; }

    internal EngineBug Bugs { get; }

    public DeterministicRandom Random { get; }

    public EngineFaultModel Faults { get; }

    internal SimScheduler Scheduler { get; }

    internal ReplicatedGrainsOptions Options { get; }

    internal Serializer Serializer => SharedSerializer.Value;

    internal TimeProvider Time { get; }

    internal ReplicationInstruments Instruments { get; }

    internal DivergenceMonitor Divergence { get; }

    internal ILogger Logger => _logger;

    public IReadOnlyList<string> GroupIds { get; }

    public bool FaultsOn { get; private set; } = true;

    public bool AcceptingNewOperations { get; private set; } = true;

    public long FaultsInjected { get; private set; }

    public long BatchesDelivered { get; private set; }

    public bool Tracing => _trace is not null;

    /// <summary>Activations made so far (numbers them in traces).</summary>
    internal int ActivationsMade { get; set; }

    public void Trace(string line) => _trace?.Invoke($"[t={Scheduler.Now,6}] {line}");

    internal ClusterConfig ConfigOf(string groupId) => _configs[groupId];

    internal SimSilo Silo(long id) => _silos[(int)id - 1];

    internal DurabilityOracle Oracle { get; }

    internal string? LastWritten(string key) => _lastWritten.GetValueOrDefault(key);

    internal void NoteWritten(string key, string value) => _lastWritten[key] = value;

    /// <summary>An activation applied <paramref name="call"/> at <paramref name="position"/>: every activation, live or replaying, must agree.</summary>
    internal void OnApplied(string groupId, long silo, long position, CallId call, byte[] payload)
    {
        Oracle.CheckApplied(groupId, position / 65_536, call);
        string bytes = Convert.ToHexString(payload);
        if (!_applied.TryGetValue((groupId, position), out var first))
        {
            _applied[(groupId, position)] = (call, bytes, silo);
        }
        else if (first.Call != call || first.Payload != bytes)
        {
            Fail(new SimulationFailure("agreement", $"{groupId} position {position} (slot {position / 65_536}): silo {first.Silo} applied " +
                $"{first.Call} {first.Payload}, silo {silo} applied {call} {bytes}"));
        }
    }

    /// <summary>Stops the run at the next check with <paramref name="failure"/> (the first one wins).</summary>
    internal void Fail(SimulationFailure failure) => _failure ??= failure;

    /// <summary>A client or mover that throws fails the seed (else it would stop silently, and show up only as a liveness failure).</summary>
    private async Task FailOnThrowAsync(Task run, string what)
    {
        try
        {
            await run;
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            Fail(new SimulationFailure("exception", $"{what} threw: {e}"));
        }
    }

    internal static EngineSimulationResult Run(ulong seed, EngineBug bugs = EngineBug.None, Action<string>? trace = null, long safetyPhase = SafetyPhaseTime) =>
        new EngineSimulation(seed, bugs, trace, safetyPhase).Run();

    internal EngineSimulationResult Run()
    {
        try
        {
            Trace($"engine seed {Seed}: {Faults}" + (Bugs == EngineBug.None ? "" : $" planted={Bugs}"));
            for (int i = 1; i <= Faults.Silos + Faults.SpareSilos; i++)
            {
                var silo = new SimSilo(i, this);
                _silos.Add(silo);
                silo.Boot();
            }
            for (int i = 0; i < Faults.Clients; i++)
            {
                var client = new EngineClient(i, this);
                _clients.Add(client);
                string name = $"client {i}";
                Scheduler.At(0, () => _ = FailOnThrowAsync(client.RunAsync(), name));
            }
            foreach (string groupId in GroupIds.OrderBy(_ => Random.NextULong()).Take(Faults.MovedGroups).Order(StringComparer.Ordinal))
            {
                var mover = new GroupMover(this, groupId);
                _movers.Add(mover);
                _targets[groupId] = ConfigOf(groupId);
                Scheduler.At(0, () => _ = FailOnThrowAsync(mover.RunAsync(), $"the mover of {groupId}"));
            }
            Scheduler.At(TickInterval, FaultTick);
            Scheduler.At(TickInterval, DeactivateIdle);

            RunChecked(SafetyPhase);
            HealEverything();
            // Liveness: every call finishes, and every group a call or a move needs elects a leader (a group whose
            // activation cannot win its campaign keeps its callers retrying until this bound).
            RunWhile(() => _clients.Any(c => c.Busy) || _movers.Any(m => !m.Settled) || _directory.Values.Any(a => a.Alive && !a.Started.IsCompleted),
                LivenessBound, "calls still pending (or moves unfinished, or activations without the lead) after faults stopped");

            // Idle: activations deactivate, then every group (led or followed) must leave memory on every silo.
            RunWhile(() => _silos.Any(s => s.IsUp && s.Table.Count > 0), Faults.ActivationIdle + 4 * Faults.EvictAfter + 2_000,
                "groups still in memory after every activation and the eviction period");

            // Read back every key through a new activation, which rebuilds its group from the WAL and replays.
            var reader = new EngineClient(_clients.Count, this);
            _clients.Add(reader);
            Scheduler.At(0, () => _ = ReadBackAsync(reader));
            RunWhile(() => reader.Busy || reader.Operations < GroupIds.Count * Faults.KeysPerGroup, LivenessBound, "read-back did not finish");

            CheckAgreement();
            ThrowIfFailed();
            SafetyChecks.CheckLinearizable(FinalHistory());
        }
        catch (SimulationFailure f)
        {
            _failure ??= f;
        }
        catch (InvariantViolationException e)
        {
            _failure ??= new SimulationFailure("engine invariant", e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            _failure ??= new SimulationFailure("exception", e.ToString());
        }
        Trace(_failure is null ? "seed passed" : $"seed FAILED: {_failure.Message}");
        return new EngineSimulationResult(Seed, _failure, _clients.Sum(c => c.Operations), FaultsInjected, BatchesDelivered,
            _evictedBeforeRestarts + _silos.Sum(s => s.IsUp ? s.Table.Evicted : 0),
            _rebuiltBeforeRestarts + _silos.Sum(s => s.IsUp ? s.Table.Rebuilt : 0),
            _stepsBeforeRestarts + _silos.Sum(s => s.IsUp ? s.Table.Engine.Steps : 0),
            _groupStepsBeforeRestarts + _silos.Sum(s => s.IsUp ? s.Table.Engine.GroupSteps : 0), _replicasCompacted, LeaseReads,
            _renewalsHeldBeforeRestarts + _silos.Sum(s => s.IsUp ? s.Table.Engine.RenewalsHeld : 0), Faults,
            _movers.Sum(m => m.Changes), _reAdds, _decommissions, _lateDrops, _lateDropsRefused);
    }

    public IEnumerable<Operation<KvInput, KvOutput>> FinalHistory() => _clients.SelectMany(c => c.FinalHistory()).OrderBy(o => o.Call);

    private async Task ReadBackAsync(EngineClient reader)
    {
        foreach (string groupId in GroupIds)
        {
            for (int k = 0; k < Faults.KeysPerGroup; k++) await reader.CallAsync(groupId, new KvInput(KvOp.Get, $"{groupId}/k{k}"), viaLog: k % 2 == 0);
        }
    }

    private void RunChecked(long until)
    {
        while (Scheduler.Now < until)
        {
            Scheduler.RunUntil(Math.Min(until, Scheduler.Now + 100));
            ThrowIfFailed();
        }
    }

    private void RunWhile(Func<bool> pending, long bound, string what)
    {
        long deadline = Scheduler.Now + bound;
        while (pending())
        {
            if (Scheduler.Now >= deadline)
            {
                throw new SimulationFailure("liveness", $"{what} within {bound} time units: " + Describe() + DescribeMoves());
            }
            RunChecked(Scheduler.Now + 50);
        }
    }

    private string Describe() =>
        string.Join("; ", _clients.Select(c => c.Describe()).Where(d => d is not null).Take(5)) + " | in memory: " +
        string.Join(", ", _silos.Select(s => $"silo{s.Id}={(s.IsUp ? string.Join(" ", s.Table.Groups.Take(4).Select(g => g.GroupId + (g.Listener is null ? "" : "*"))) + $" ({s.Table.Count})" : "down")}"));

    private void ThrowIfFailed()
    {
        if (_failure is not null) throw _failure;
        if (_logger.FirstError is { } error) throw new SimulationFailure("engine error", error);
    }

    // ----- network: one batch per silo pair and step -----

    internal void SendBatch(long from, long to, IReadOnlyList<(string GroupId, Message Message)> batch)
    {
        if (FaultsOn && Random.Chance(Faults.CrashAfterSendRate))
        {
            // A crash aimed at the fsync window: whatever this silo sent before its append is durable must not count.
            var sender = _silos[(int)from - 1];
            int senderIncarnation = sender.Incarnation;
            Scheduler.At(Random.Next(0, Faults.FsyncMax + 1), () =>
            {
                if (FaultsOn && sender.IsUp && sender.Incarnation == senderIncarnation) Crash(sender);
            });
        }
        if (_blocked.Contains((from, to))) return;
        if (FaultsOn && Random.Chance(Faults.DropRate))
        {
            FaultsInjected++;
            return;
        }
        int copies = FaultsOn && Random.Chance(Faults.DuplicateRate) ? 2 : 1;
        for (int i = 0; i < copies; i++)
        {
            long delay = 1 + Random.Next(0, Faults.MaxDelay);
            if (FaultsOn && Random.Chance(Faults.LongDelayRate)) delay += Random.Next(50, 500);
            var target = _silos[(int)to - 1];
            int incarnation = target.Incarnation;
            Scheduler.At(delay, () =>
            {
                if (!target.IsUp || target.Incarnation != incarnation) return;
                BatchesDelivered++;
                if (Tracing) Trace($"s{from}->s{to} {string.Join(", ", batch.Select(m => $"{m.GroupId}:{TraceFormat.Describe(m.Message)}"))}");
                target.Receive(from, batch);
            }, target.Context);
        }
    }

    // ----- the directory: where each grain's activation lives -----

    /// <summary>The grain's activation, started on a live replica silo if it has none (as Orleans places and activates it).</summary>
    internal async Task<SimActivation?> ActivationForAsync(string groupId)
    {
        if (!_directory.TryGetValue(groupId, out var activation) || !activation.Alive)
        {
            activation = Activate(groupId);
            if (activation is null) return null;
        }
        // Bounded on the world's side too: a start on a silo that crashes never completes.
        await Task.WhenAny(activation.Started, Scheduler.Delay(ActivationTimeout + TickInterval));
        return activation.Started.IsCompletedSuccessfully && activation.Alive ? activation : null;
    }

    private SimActivation? Activate(string groupId, long? awayFrom = null)
    {
        SimSilo silo;
        if (_targets.TryGetValue(groupId, out var target))
        {
            // A moved group: a live silo of its replica set that holds a replica (else any live holder: a member the
            // move has not reached yet holds nothing), the member the last move added first.
            var holders = _silos.Where(s => s.IsUp && s.Id != awayFrom && s.Holds(groupId)).ToList();
            var candidates = holders.Where(s => target.Contains(s.Id)).ToList();
            if (candidates.Count == 0) candidates = holders;
            if (candidates.Count == 0) return null;
            long preferred = _preferred.GetValueOrDefault(groupId);
            silo = candidates.Find(s => s.Id == preferred) ?? candidates[Random.Next(0, candidates.Count)];
        }
        else
        {
            var candidates = _silos.Where(s => s.IsUp && ConfigOf(groupId).Contains(s.Id) && s.Id != awayFrom).ToList();
            if (candidates.Count == 0) return null;
            silo = candidates[Random.Next(0, candidates.Count)];
        }
        // Started on the silo's context, as the activation runs on its silo.
        var activation = new SimActivation(this, silo, groupId);
        if (_directory.TryGetValue(groupId, out var displaced) && displaced.Alive) _displaced.Add(displaced);
        _directory[groupId] = activation;
        Trace($"activate {groupId} on silo {silo.Id} (activation #{activation.Number})");
        Scheduler.At(0, () => _ = activation.StartAsync(this, ActivationTimeout), silo.Context);
        return activation;
    }

    /// <summary>A call timed out: now and then Orleans declares the activation's silo dead and activates the grain elsewhere.</summary>
    internal void OnCallTimedOut(SimActivation activation)
    {
        if (!FaultsOn || !Random.Chance(Faults.MoveOnTimeoutRate)) return;
        if (!_directory.TryGetValue(activation.GroupId, out var current) || current != activation) return;
        FaultsInjected++;
        // The old activation keeps running until it learns that it lost its group (two leaders for a while).
        Activate(activation.GroupId, awayFrom: activation.Silo.Id);
    }

    private void DeactivateIdle()
    {
        foreach (var (groupId, activation) in _directory.ToList())
        {
            if (activation.Alive && Scheduler.Now - activation.LastUsed > Faults.ActivationIdle && activation.Started.IsCompleted)
            {
                Trace($"deactivate idle {groupId} on silo {activation.Silo.Id}");
                Scheduler.At(0, () => activation.Stop("idle"), activation.Silo.Context);
                _directory.Remove(groupId);
            }
        }
        // A displaced activation that won its group back after the directory moved (its campaign waited for a lease
        // guard, say) would otherwise hold the group in memory forever: nothing calls or fences it.
        _displaced.RemoveAll(a => !a.Alive);
        foreach (var activation in _displaced.Where(a => Scheduler.Now - a.LastUsed > Faults.ActivationIdle && a.Started.IsCompleted).ToList())
        {
            Trace($"deactivate idle displaced {activation.GroupId} on silo {activation.Silo.Id}");
            Scheduler.At(0, () => activation.Stop("idle"), activation.Silo.Context);
            _displaced.Remove(activation);
        }
        Scheduler.At(TickInterval * 5, DeactivateIdle);
    }

    // ----- faults -----

    private void FaultTick()
    {
        if (!FaultsOn) return;
        if (_partitionEndsAt >= 0 && Scheduler.Now >= _partitionEndsAt) HealPartition();
        if (_partitionEndsAt < 0 && Random.Chance(Faults.PartitionRate)) StartPartition();
        if (Random.Chance(Faults.CrashRate)) CrashOne();
        if (Random.Chance(Faults.DuelRate)) Duel();
        Scheduler.At(TickInterval, FaultTick);
    }

    private void StartPartition()
    {
        FaultsInjected++;
        var (side, oneWay) = PartitionCut.Draw(Random, [.. _silos.Select(s => s.Id)], _blocked);
        _partitionEndsAt = Scheduler.Now + Random.Next(50, 1500);
        Trace($"partition {(oneWay ? "one-way" : "symmetric")} {{{string.Join(",", side)}}} until t={_partitionEndsAt}");
    }

    private void HealPartition()
    {
        _blocked.Clear();
        _partitionEndsAt = -1;
        Trace("partition healed");
    }

    private void CrashOne()
    {
        var up = _silos.Where(s => s.IsUp).ToList();
        if (up.Count == 0) return;
        Crash(up[Random.Next(0, up.Count)]);
    }

    private void Crash(SimSilo victim)
    {
        FaultsInjected++;
        Trace($"crash silo {victim.Id}");
        CountBeforeCrash(victim);
        victim.Crash();
        Scheduler.At(Random.Next(50, 800), () => Restart(victim));
    }

    private void CountBeforeCrash(SimSilo silo)
    {
        _evictedBeforeRestarts += silo.Table.Evicted;
        _rebuiltBeforeRestarts += silo.Table.Rebuilt;
        _stepsBeforeRestarts += silo.Table.Engine.Steps;
        _groupStepsBeforeRestarts += silo.Table.Engine.GroupSteps;
        _renewalsHeldBeforeRestarts += silo.Table.Engine.RenewalsHeld;
    }

    private void Restart(SimSilo silo)
    {
        if (silo.IsUp || silo.Context is { Dead: false } || silo.Gone) return;
        Trace($"restart silo {silo.Id} from its disk");
        silo.Boot();
    }

    /// <summary>A second activation of a grain campaigns while the first still runs (Orleans' single activation is eventual).</summary>
    private void Duel()
    {
        var led = _directory.Where(p => p.Value.Alive).Select(p => p.Value).ToList();
        if (led.Count == 0) return;
        var victim = led[Random.Next(0, led.Count)];
        if (Activate(victim.GroupId, awayFrom: victim.Silo.Id) is not null)
        {
            FaultsInjected++;
            Trace($"duplicate activation of {victim.GroupId}");
        }
    }

    private void HealEverything()
    {
        FaultsOn = false;
        AcceptingNewOperations = false;
        HealPartition();
        foreach (var silo in _silos.Where(s => !s.IsUp && s.Context is not { Dead: false })) Restart(silo);
        Trace("faults stopped: liveness phase");
    }

    // ----- agreement -----

    /// <summary>Every two replicas of a group hold the same value at every slot both know to be chosen.</summary>
    private void CheckAgreement()
    {
        var reads = new List<(string GroupId, long Silo, Task<(long Snapshot, List<LogEntry> Chosen)> Read)>();
        foreach (var silo in _silos)
        {
            foreach (string groupId in GroupIds.Where(g => silo.Holds(g)))
            {
                var done = new TaskCompletionSource<(long, List<LogEntry>)>();
                Scheduler.At(0, () => _ = ReadChosenAsync(silo, groupId, done), silo.Context);
                reads.Add((groupId, silo.Id, done.Task));
            }
        }
        RunWhile(() => reads.Any(r => !r.Read.IsCompleted), LivenessBound, "replicas did not answer what they know to be chosen");
        foreach (var group in reads.GroupBy(r => r.GroupId))
        {
            var chosen = new Dictionary<long, (long Silo, string Value)>();
            foreach (var (_, silo, read) in group)
            {
                if (read.IsCompletedSuccessfully && read.Result.Snapshot > 0) _replicasCompacted++;
                if (!read.IsCompletedSuccessfully) throw new SimulationFailure("liveness", $"silo {silo} did not answer for {group.Key}: {read.Exception?.InnerException?.Message ?? read.Status.ToString()}");
                foreach (var entry in read.Result.Chosen)
                {
                    string value = Fingerprint(entry.Value);
                    if (chosen.TryGetValue(entry.Slot, out var other) && other.Value != value)
                    {
                        throw new SimulationFailure("agreement",
                            $"{group.Key} slot {entry.Slot}: silo {other.Silo} chose {other.Value}, silo {silo} chose {value}");
                    }
                    chosen[entry.Slot] = (silo, value);
                }
            }
        }
    }

    private static async Task ReadChosenAsync(SimSilo silo, string groupId, TaskCompletionSource<(long, List<LogEntry>)> done)
    {
        try
        {
            done.TrySetResult(await silo.GroupFor(groupId).AskAsync(core => ((core.SnapshotSlot,
                core.Entries.Where(e => e.Chosen || e.Slot <= core.CommitIndex).ToList()), new Ready())));
        }
        catch (Exception e)
        {
            done.TrySetException(e);
        }
    }

    private static string Fingerprint(LogValue value) => value.Kind switch
    {
        LogValueKind.Noop => "noop",
        LogValueKind.Config => "config" + value.Config,
        _ => string.Join(",", value.Commands.Select(c => $"{c.Id}/{Convert.ToHexString(c.Payload)}")),
    };

    /// <summary>Simulated time for wall clock and monotonic clock alike (entry times are bounded by the latter), in ms.</summary>
    private sealed class SimTimeProvider(SimScheduler scheduler) : TimeProvider
    {
        public override DateTimeOffset GetUtcNow() => DateTimeOffset.UnixEpoch.AddMilliseconds(scheduler.Now);

        public override long TimestampFrequency => 1000;

        public override long GetTimestamp() => scheduler.Now;
    }

    private sealed class SimMeterFactory : IMeterFactory
    {
        public Meter Create(MeterOptions options) => new(options);

        public void Dispose()
        {
        }
    }

    /// <summary>Collects the engine's logs: an error or critical log (a stopped replica, a divergence) fails the seed.</summary>
    private sealed class SimLogger(EngineSimulation world) : ILogger
    {
        public string? FirstError { get; private set; }

        public IDisposable? BeginScope<TState>(TState state) where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Warning || world.Tracing;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            string line = formatter(state, exception) + (exception is null ? "" : $": {exception.Message}");
            world.Trace($"log {logLevel}: {line}");
            if (logLevel >= LogLevel.Error) FirstError ??= line + (exception is null ? "" : "\n" + exception);
        }
    }
}

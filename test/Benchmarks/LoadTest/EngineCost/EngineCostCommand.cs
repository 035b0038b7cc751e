using System.CommandLine;
using Command = OpenReplica.Consensus.Command;
using System.Diagnostics;
using Microsoft.Extensions.Logging.Abstractions;
using OpenReplica.Consensus;
using OpenReplica.Orleans;
using OpenReplica.Orleans.Replication;
using OpenReplica.Storage;

namespace OpenReplica.LoadTest.EngineCost;

/// <summary>
/// The <c>engine</c> subcommand: what one spread write costs in the replication engine alone, without Orleans. Three
/// silos' engine parts (a <see cref="GroupTable"/>, <see cref="ReplicationEngine"/> with one worker and
/// <see cref="GroupStore"/> over a <see cref="VolatileLog"/>) in this process, joined by an in-memory network that
/// encodes and decodes every message with <see cref="WireCodec"/> as the transport and the inbound admission do; each
/// group is led by one silo, writes (one command each) go to the groups in turn with a fixed number in flight, and
/// the silos are stepped and ticked by this loop on one thread. The allocations per write are the same on a busy
/// machine as on a quiet one, so a change's effect on them can be measured while other runs share the machine (the
/// load tool's throughput cannot); the CPU time per write is printed too, for a rough comparison.
/// </summary>
internal static class EngineCostCommand
{
    public static System.CommandLine.Command Create()
    {
        var groups = new Option<int>("--groups") { Description = "Groups (grains), each with a replica on each of 3 silos", DefaultValueFactory = _ => 1000 };
        var writes = new Option<int>("--writes") { Description = "Measured writes (after as many for warm-up)", DefaultValueFactory = _ => 50_000 };
        var inFlight = new Option<int>("--in-flight") { Description = "Writes in flight at once (the load tool's callers)", DefaultValueFactory = _ => 64 };
        var silos = new Option<int>("--silos") { Description = "Silos, each holding a replica of every group (the replication factor: 3 or 5)", DefaultValueFactory = _ => 3 };
        var acceptSpares = new Option<int>("--accept-spares") { Description = "ReplicatedGrainsOptions.AcceptSpares (thrifty accepts)", DefaultValueFactory = _ => ReplicatedGrainsOptions.DefaultAcceptSpares };
        var allocations = new Option<bool>("--allocations") { Description = "Also print the types allocated during the measured writes (sampled by the runtime)" };
        var persisted = new Option<bool>("--persisted") { Description = "Each silo's log is a WriteAheadLog in a temporary directory (fsync), not a VolatileLog" };
        var command = new System.CommandLine.Command("engine", "Allocations and CPU per spread write in three silos' replication engines in one process (no Orleans; Volatile log, or a WAL with --persisted)")
        {
            groups, writes, inFlight, silos, acceptSpares, allocations, persisted,
        };
        command.SetAction(async (parse, _) =>
        {
            await using var run = new EngineCostRun(parse.GetValue(groups), parse.GetValue(inFlight), parse.GetValue(silos), parse.GetValue(acceptSpares),
                parse.GetValue(persisted));
            await run.StartAsync();
            await run.WriteAsync(parse.GetValue(writes)); // warm-up: JIT, tiering, the logs' first growth
            using var sampler = parse.GetValue(allocations) ? new AllocationSampler() : null;
            sampler?.Start();
            var result = await run.MeasureAsync(parse.GetValue(writes));
            sampler?.Stop();
            Console.WriteLine(result);
            if (sampler is not null) Console.WriteLine(sampler.Report(25));
            return 0;
        });
        return command;
    }
}

/// <summary>One run of <see cref="EngineCostCommand"/>: the silos, their network and the writes in flight.</summary>
internal sealed class EngineCostRun : IGroupListener, IAsyncDisposable
{
    private const int RoundsPerTick = 4; // a tick (20 ms on a silo) every few rounds of steps and deliveries

    private readonly EngineSilo[] _silos;
    private readonly int _acceptSpares;
    private readonly string[] _groupIds;
    private readonly int _inFlight;
    private readonly Guid _client = Guid.NewGuid();
    private readonly byte[] _payload = new byte[24]; // about an Increment call's serialized invokable
    private long _sequence;
    private long _committed;
    private long _nextGroup;
    private long _tick;
    private int _waiting;

    private readonly string? _directory;

    public EngineCostRun(int groups, int inFlight, int silos, int acceptSpares, bool persisted = false)
    {
        _directory = persisted ? Directory.CreateTempSubdirectory("openreplica-enginecost-").FullName : null;
        _inFlight = inFlight;
        _silos = new EngineSilo[silos];
        _acceptSpares = acceptSpares;
        var options = new ReplicatedGrainsOptions { LeaseDuration = TimeSpan.FromSeconds(2), AcceptSpares = acceptSpares }; // as the load tool's cells
        var config = new ClusterConfig(Enumerable.Range(1, silos).Select(i => (long)i));
        for (int i = 0; i < silos; i++)
        {
            IReplicaLog log = _directory is null ? new VolatileLog() : WriteAheadLog.Open(new WalOptions { Directory = Path.Combine(_directory, $"silo-{i + 1}") });
            _silos[i] = new EngineSilo(i + 1, options, log);
        }
        _groupIds = [.. Enumerable.Range(0, groups).Select(i => $"3|enginecost/{i}")];
        foreach (var silo in _silos)
        {
            foreach (var groupId in _groupIds)
            {
                silo.Table.GetOrCreate(groupId, () => ReplicationRuntime.GrainGroupOptions(silo.Id, config, options, long.MinValue),
                    (id, core, worker) => new GroupReplica(id, core, worker, options.MaxQueuedProposals, NullLogger.Instance,
                        listener: LeaderOf(id) == silo ? this : null));
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        foreach (var silo in _silos) await silo.Store.DisposeAsync();
        if (_directory is not null) Directory.Delete(_directory, recursive: true);
    }

    private EngineSilo LeaderOf(string groupId) => _silos[(int)((uint)groupId.GetHashCode(StringComparison.Ordinal) % (uint)_silos.Length)];

    /// <summary>Every group's leader campaigns; returns once all lead.</summary>
    public async Task StartAsync()
    {
        foreach (var groupId in _groupIds) LeaderOf(groupId).Table.Peek(groupId)!.Post(static core => core.Campaign());
        for (int round = 0; round < 10_000 && !_groupIds.All(g => LeaderOf(g).Table.Peek(g)!.IsLeader); round++) await RoundAsync();
        if (!_groupIds.All(g => LeaderOf(g).Table.Peek(g)!.IsLeader)) throw new InvalidOperationException("not every group elected its leader");
    }

    /// <summary>Runs <paramref name="writes"/> more writes to completion, <see cref="_inFlight"/> at a time.</summary>
    public async Task WriteAsync(int writes)
    {
        long target = _committed + writes;
        long proposed = _committed + _waiting;
        while (_committed < target)
        {
            while (_waiting < _inFlight && proposed < target)
            {
                Propose();
                proposed++;
            }
            await RoundAsync();
        }
    }

    public async Task<string> MeasureAsync(int writes)
    {
        GC.Collect();
        long bytes = GC.GetTotalAllocatedBytes(precise: true);
        long messages = _silos.Sum(s => s.Messages);
        long steps = _silos.Sum(s => s.Engine.Steps);
        long groupSteps = _silos.Sum(s => s.Engine.GroupSteps);
        int gen0 = GC.CollectionCount(0);
        var cpu = Process.GetCurrentProcess().TotalProcessorTime;
        var wall = Stopwatch.StartNew();
        await WriteAsync(writes);
        wall.Stop();
        double cpuUs = (Process.GetCurrentProcess().TotalProcessorTime - cpu).TotalMicroseconds;
        double allocated = GC.GetTotalAllocatedBytes(precise: true) - bytes;
        return $"{writes:N0} spread writes over {_groupIds.Length:N0} groups, {_inFlight} in flight, {_silos.Length} silos' engines in one process ({(_directory is null ? "Volatile log" : "WAL with fsync")}, accept spares {_acceptSpares}): "
            + $"{allocated / writes:N0} bytes allocated, {cpuUs / writes:N1} us CPU ({wall.Elapsed.TotalMicroseconds / writes:N1} us wall) per write; "
            + $"{(double)(_silos.Sum(s => s.Messages) - messages) / writes:N2} messages, {(double)(_silos.Sum(s => s.Engine.GroupSteps) - groupSteps) / writes:N2} group steps "
            + $"in {(double)(_silos.Sum(s => s.Engine.Steps) - steps) / writes:N3} engine steps per write; {GC.CollectionCount(0) - gen0} gen0 GCs";
    }

    private void Propose()
    {
        // Spread: consecutive writes go to groups far apart, every group in turn.
        var groupId = _groupIds[(int)(_nextGroup++ * 7919 % _groupIds.Length)];
        long sequence = ++_sequence;
        var command = new Command(_client, sequence, sequence, _payload);
        if (LeaderOf(groupId).Table.Peek(groupId)!.Propose(command) != ProposeResult.Queued) throw new InvalidOperationException($"{groupId} refused a write");
        _waiting++;
    }

    /// <summary>Every silo takes one step per worker, then every message sent is delivered; a tick every few rounds.</summary>
    private async Task RoundAsync()
    {
        foreach (var silo in _silos)
        {
            silo.Clock.Now++;
            foreach (var worker in silo.Engine.Workers) await worker.StepAsync();
        }
        foreach (var silo in _silos) silo.DeliverTo(_silos);
        if (++_tick % RoundsPerTick == 0)
        {
            foreach (var silo in _silos) silo.Table.OnTick(_tick / RoundsPerTick, 0, RoundsPerTick);
        }
    }

    void IGroupListener.OnReady(Ready ready)
    {
        if (!ready.HasCommitted) return;
        foreach (var entry in ready.Committed)
        {
            foreach (var command in entry.Commands)
            {
                if (command.Command.ClientId != _client) continue;
                _committed++;
                _waiting--;
            }
        }
    }

    void IGroupListener.OnFailed(Exception exception) => throw new InvalidOperationException("a group failed", exception);

    /// <summary>One silo's engine parts and what it sent, encoded as the transport carries it.</summary>
    private sealed class EngineSilo : IEngineNetwork
    {
        private readonly List<(long To, string GroupId, byte[] Payload)> _outbox = [];

        public EngineSilo(long id, ReplicatedGrainsOptions options, IReplicaLog log)
        {
            Id = id;
            Store = new GroupStore(log);
            Engine = new ReplicationEngine(1, options.EngineMaxGroupsPerStep, Store, this, Clock, NullLogger.Instance);
            Table = new GroupTable(Store, Engine, Clock, options.MaxQueuedProposals, NullLogger.Instance);
        }

        public long Id { get; }

        public ManualEngineClock Clock { get; } = new();

        public GroupStore Store { get; }

        public ReplicationEngine Engine { get; }

        public GroupTable Table { get; }

        public long Messages { get; private set; }

        public void Send(IReadOnlyList<(GroupReplica Group, Message Message)> messages)
        {
            foreach (var (group, message) in messages) _outbox.Add((message.To, group.GroupId, WireCodec.Encode(message)));
            Messages += messages.Count;
        }

        public void DeliverTo(EngineSilo[] silos)
        {
            foreach (var (to, groupId, payload) in _outbox)
            {
                // As InboundAdmission and ReplicationRuntime.Deliver: decode, then hand to the replica in memory.
                silos[to - 1].Table.TryPost(groupId, WireCodec.DecodeMessage(payload));
            }
            _outbox.Clear();
        }
    }

    private sealed class ManualEngineClock : IEngineClock
    {
        public long Now { get; set; }
    }
}

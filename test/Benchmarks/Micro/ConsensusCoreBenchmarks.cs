using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Columns;
using BenchmarkDotNet.Configs;
using BenchmarkDotNet.Diagnosers;
using BenchmarkDotNet.Jobs;
using BenchmarkDotNet.Toolchains.InProcess.Emit;
using OpenReplica.Consensus;

namespace OpenReplica.Benchmarks;

/// <summary>
/// Commands/s of the Multi-Paxos core alone: three replicas in one process, no I/O (a Ready's entries are not
/// written anywhere), messages delivered from an in-memory FIFO. The leader is handed N commands of 64 bytes
/// and messages are delivered until all N are committed at the leader. Batching on (window 32, 512 commands a
/// slot) against batching off (MaxBatchCommands = 1, same window) as the in-run baseline.
///   dotnet run -c Release --project test/Benchmarks/Micro -- --filter '*ConsensusCore*'
/// </summary>
[Config(typeof(ConsensusCoreConfig))]
public class ConsensusCoreBenchmarks
{
    private const int CommandsPerInvoke = 4096;
    private const int PayloadBytes = 64;
    private const int Clients = 16;

    private readonly Queue<Message> _network = new();
    private readonly byte[] _payload = new byte[PayloadBytes];
    private readonly Guid[] _clients = Enumerable.Range(1, Clients).Select(i => new Guid(i, 0, 0, new byte[8])).ToArray();
    private readonly long[] _nextSequence = new long[Clients];
    private PaxosReplica[] _replicas = [];
    private long _committedCommands;

    [Params(true, false)]
    public bool Batching { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var genesis = new ClusterConfig([1, 2, 3]);
        _replicas = [.. genesis.Members.Select(id => new PaxosReplica(new ReplicaOptions
        {
            ReplicaId = id,
            InitialConfig = genesis,
            Window = 32,
            MaxBatchCommands = Batching ? 512 : 1,
            ElectionTimeoutTicks = 0, // campaign mode: no timers, the leader stays put
        }))];
        Handle(1, _replicas[0].Campaign());
        Drain();
        if (!_replicas[0].IsLeader) throw new InvalidOperationException("replica 1 did not become leader");
    }

    [Benchmark(OperationsPerInvoke = CommandsPerInvoke)]
    public long ProposeAndCommit()
    {
        long target = _committedCommands + CommandsPerInvoke;
        var commands = new Command[CommandsPerInvoke];
        for (int i = 0; i < commands.Length; i++)
        {
            int client = i % Clients;
            long sequence = ++_nextSequence[client];
            // FirstUnacknowledged = sequence: the client has its earlier replies, so the session table stays small.
            commands[i] = new Command(_clients[client], sequence, sequence, _payload);
        }
        Handle(1, _replicas[0].Propose(commands));
        Drain();
        if (_committedCommands != target)
        {
            throw new InvalidOperationException($"committed {_committedCommands}, expected {target}");
        }
        // Keep memory bounded across invocations, as a host would: snapshot and drop the applied log.
        foreach (var replica in _replicas) Handle(replica.Id, replica.CompactLog([]));
        return _committedCommands;
    }

    private void Drain()
    {
        while (_network.TryDequeue(out var message))
        {
            Handle(message.To, _replicas[message.To - 1].Step(message));
        }
    }

    private void Handle(long replicaId, Ready ready)
    {
        foreach (var m in ready.Messages) _network.Enqueue(m);
        if (ready.Rejections.Count > 0) throw new InvalidOperationException($"rejected: {ready.Rejections[0]}");
        if (replicaId != 1) return;
        // Counted at the leader (followers apply the same commands once a later message carries the commit index).
        foreach (var entry in ready.Committed) _committedCommands += entry.Commands.Count;
    }

    private sealed class ConsensusCoreConfig : ManualConfig
    {
        public ConsensusCoreConfig()
        {
            AddJob(Job.Default
                .WithToolchain(InProcessEmitToolchain.Instance)
                .WithLaunchCount(1)
                .WithWarmupCount(2)
                .WithIterationCount(8));
            AddColumn(StatisticColumn.OperationsPerSecond);
            AddDiagnoser(MemoryDiagnoser.Default);
        }
    }
}

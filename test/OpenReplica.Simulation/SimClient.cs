using OpenReplica.Checker;
using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>
/// A client process: one operation at a time, retried with the same (client, sequence) stamp on a timeout or a
/// redirect, so a retry is never applied twice. Its history is what the linearizability checker sees.
/// </summary>
public sealed class SimClient(int index, Simulation world)
{
    public const int MaxRedirectsPerAttempt = 3;

    private readonly List<Operation<KvInput, KvOutput>> _history = [];
    private Outstanding? _current;
    private long _nextSequence = 1;
    private long _firstUnacknowledged = 1;
    private int _targetCursor;

    public int Index { get; } = index;
    public long Endpoint => 100_000 + Index;
    public Guid ClientId { get; } = DeterministicGuid(world.Seed, index);
    public bool Busy => _current is not null;
    public IReadOnlyList<Operation<KvInput, KvOutput>> History => _history;
    public int Retries { get; private set; }

    /// <summary>Acknowledged commands that went through the log: each must be applied exactly once.</summary>
    public List<CommandId> AcknowledgedWrites { get; } = [];

    public void StartNext()
    {
        if (_current is not null || !world.AcceptingNewOperations) return;
        var r = world.Random;
        string key = "k" + r.Next(0, world.Faults.Keys);
        long seq = _nextSequence++;
        int pick = r.Next(0, 10);
        KvInput input = pick switch
        {
            < 3 => new KvInput(KvOp.Get, key),
            < 7 => new KvInput(KvOp.Put, key, $"{Index}.{seq}"),
            _ => new KvInput(KvOp.Cas, key, $"{Index}.{seq}", r.Chance(0.3) ? null : world.LastWrittenValue(key)),
        };
        bool viaLog = input.Op != KvOp.Get || r.Chance(0.3);
        _current = new Outstanding(seq, input, viaLog, world.Now);
        Send();
    }

    public void OnReply(ClientReply reply)
    {
        if (_current is not { } op || reply.Sequence != op.Sequence) return;
        if (reply.Output is null)
        {
            // Redirect: follow the hint a few times, then wait for the timeout to try elsewhere.
            if (++op.Redirects > MaxRedirectsPerAttempt) return;
            op.Target = reply.LeaderHint ?? NextTarget();
            Send(keepTarget: true);
            return;
        }
        _history.Add(new Operation<KvInput, KvOutput>(Index, op.Input, reply.Output, op.CallTime, world.Now));
        if (op.ViaLog) AcknowledgedWrites.Add(new CommandId(ClientId, op.Sequence));
        if (op.Input.Op != KvOp.Get && reply.Output.Ok) world.NoteWritten(op.Input.Key, op.Input.Value!);
        _firstUnacknowledged = op.Sequence + 1;
        _current = null;
        world.Schedule(world.Random.Next(0, 30), StartNext);
    }

    /// <summary>Operations still open when the run ends are indeterminate: they may or may not have taken effect.</summary>
    public IEnumerable<Operation<KvInput, KvOutput>> FinalHistory() =>
        _current is { } op ? _history.Append(new Operation<KvInput, KvOutput>(Index, op.Input, null, op.CallTime, null)) : _history;

    public string? Describe() => _current is { } op ? $"client {Index} #{op.Sequence} {op.Input.Op} {op.Input.Key} pending since t={op.CallTime}" : null;

    private void Send(bool keepTarget = false)
    {
        var op = _current!;
        if (!keepTarget) op.Target = op.Attempts == 0 ? world.GuessLeader() : NextTarget();
        op.Attempts++;
        int attempt = op.Attempts;
        world.SendToReplica(Endpoint, op.Target, new ClientRequest(Endpoint, ClientId, op.Sequence, _firstUnacknowledged, op.Input, op.ViaLog));
        world.Schedule(Simulation.ClientTimeout, () => OnTimeout(op.Sequence, attempt));
    }

    private void OnTimeout(long sequence, int attempt)
    {
        if (_current is not { } op || op.Sequence != sequence || op.Attempts != attempt) return;
        Retries++;
        op.Redirects = 0;
        Send();
    }

    private long NextTarget()
    {
        var ids = world.ReplicaIds;
        return ids[_targetCursor++ % ids.Count];
    }

    private static Guid DeterministicGuid(ulong seed, int index) => StableIds.Guid(seed * 31 + (ulong)index + 7);

    private sealed class Outstanding(long sequence, KvInput input, bool viaLog, long callTime)
    {
        public long Sequence { get; } = sequence;
        public KvInput Input { get; } = input;
        public bool ViaLog { get; } = viaLog;
        public long CallTime { get; } = callTime;
        public long Target { get; set; }
        public int Attempts { get; set; }
        public int Redirects { get; set; }
    }
}

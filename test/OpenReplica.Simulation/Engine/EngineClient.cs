using OpenReplica.Checker;
using OpenReplica.Consensus;
using OpenReplica.Orleans;

namespace OpenReplica.Simulation.Engine;

/// <summary>
/// A client of the simulated cluster: one call at a time on a random key of a random grain, through the grain's
/// activation (the one it used last while it works, as Orleans' directory cache does; else the one the world's
/// directory finds or creates). A call through the log carries a stamp
/// (client, sequence) and is retried with the same stamp after a timeout or a refusal, possibly on another
/// activation, so it must take effect exactly once. Reads go through the log or through the read-index barrier.
/// Its history is what the linearizability checker sees.
/// </summary>
internal sealed class EngineClient(int index, EngineSimulation world)
{
    private readonly List<Operation<KvInput, KvOutput>> _history = [];
    private (KvInput Input, long CallTime, int Attempts)? _current;
    private long _nextSequence = 1;
    // Like Orleans' directory cache: the client keeps calling the activation it last used until a call through it
    // fails, even after the world's directory moved the grain (a duplicate activation). Reads that old activation
    // answers under its lease must still be linearizable.
    private readonly Dictionary<string, SimActivation> _cached = [];

    public int Index { get; } = index;

    public Guid ClientId { get; } = StableGuid(world.Seed, index);

    public bool Busy => _current is not null;

    public int Operations => _history.Count;

    public async Task RunAsync()
    {
        await world.Scheduler.Delay(world.Random.Next(0, 50));
        while (world.AcceptingNewOperations)
        {
            var r = world.Random;
            string groupId = world.GroupIds[r.Next(0, world.GroupIds.Count)];
            string key = $"{groupId}/k{r.Next(0, world.Faults.KeysPerGroup)}";
            long seq = _nextSequence;
            int pick = r.Next(0, 10);
            KvInput input = pick switch
            {
                < 3 => new KvInput(KvOp.Get, key),
                < 7 => new KvInput(KvOp.Put, key, $"{Index}.{seq}"),
                _ => new KvInput(KvOp.Cas, key, $"{Index}.{seq}", r.Chance(0.3) ? null : world.LastWritten(key)),
            };
            await CallAsync(groupId, input, viaLog: input.Op != KvOp.Get || r.Chance(0.3));
            await world.Scheduler.Delay(world.Random.Next(0, 30));
        }
    }

    /// <summary>One call, retried until it has an answer (the run's liveness bound ends a call that never gets one).</summary>
    public async Task CallAsync(string groupId, KvInput input, bool viaLog)
    {
        long sequence = viaLog ? _nextSequence++ : 0;
        var stamp = new CallStamp(ClientId, sequence, sequence);
        long callTime = world.Scheduler.Now;
        for (int attempt = 1; ; attempt++)
        {
            _current = (input, callTime, attempt);
            var activation = _cached.TryGetValue(groupId, out var cached) && cached.Alive ? cached : await world.ActivationForAsync(groupId);
            if (activation is not null)
            {
                _cached[groupId] = activation;
                var cancel = new CancellationTokenSource();
                world.Scheduler.At(EngineSimulation.CallTimeout, cancel.Cancel);
                try
                {
                    KvOutput output;
                    activation.LastUsed = world.Scheduler.Now;
                    if (viaLog)
                    {
                        output = SimKvGrain.DecodeOutput(await activation.Session.ReplicateAsync(KvCommand.Encode(input), stamp, cancel.Token));
                    }
                    else
                    {
                        // As ReplicatedGrain does: under the leader's lease the read runs at once, else after a read-index round.
                        if (!activation.Session.CanReadLocally()) await activation.Session.ReadBarrierAsync(cancel.Token);
                        else world.LeaseReads++;
                        output = new KvOutput(activation.Grain.Read(input.Key));
                    }
                    _history.Add(new Operation<KvInput, KvOutput>(Index, input, output, callTime, world.Scheduler.Now));
                    if (world.Tracing) world.Trace($"client {Index} {input.Op} {input.Key} -> {(input.Op == KvOp.Get ? output.Value ?? "nil" : output.Ok ? "ok" : $"refused ({output.Value ?? "nil"})")} via activation #{activation.Number} on silo {activation.Silo.Id}{(viaLog ? "" : " (read)")}");
                    if (input.Op != KvOp.Get && output.Ok) world.NoteWritten(input.Key, input.Value!);
                    _current = null;
                    return;
                }
                catch (GrainDivergedException e)
                {
                    world.Fail(new SimulationFailure("divergence", e.Message));
                    return;
                }
                catch (Exception e) when (e is TimeoutException or ReplicaUnavailableException)
                {
                    _cached.Remove(groupId);
                    if (world.Tracing) world.Trace($"client {Index} {input.Op} {input.Key} on {activation.Silo.Id}: {e.Message}");
                    if (e is TimeoutException) world.OnCallTimedOut(activation);
                }
            }
            await world.Scheduler.Delay(world.Random.Next(5, 50));
        }
    }

    /// <summary>Calls still open when the run ends are indeterminate: they may or may not have taken effect.</summary>
    public IEnumerable<Operation<KvInput, KvOutput>> FinalHistory() =>
        _current is { } op ? _history.Append(new Operation<KvInput, KvOutput>(Index, op.Input, null, op.CallTime, null)) : _history;

    /// <summary>The group of the call in progress, if any.</summary>
    public string? PendingGroup => _current is { } op ? op.Input.Key[..op.Input.Key.IndexOf('/')] : null;

    public string? Describe() => _current is { } op ? $"client {Index} {op.Input.Op} {op.Input.Key} pending since t={op.CallTime} ({op.Attempts} attempts)" : null;

    private static Guid StableGuid(ulong seed, int index) => StableIds.Guid(seed * 131 + (ulong)index + 3);
}

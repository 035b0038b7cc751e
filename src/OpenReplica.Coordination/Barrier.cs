using OpenReplica.Orleans;
using Orleans.Concurrency;

namespace OpenReplica.Coordination;

/// <summary>What a caller of <see cref="IBarrierGrain.SignalAndWait"/> gets: the barrier's generation (phase) it passed and its arrival index (0 … parties − 1).</summary>
[GenerateSerializer, Immutable]
[Alias("OpenReplica.Coordination.BarrierArrival")]
public readonly record struct BarrierArrival([property: Id(0)] long Generation, [property: Id(1)] int Index);

/// <summary>
/// A cyclic barrier (ConCoord's Barrier, Python's <c>threading.Barrier</c>, .NET's Barrier phases): callers wait
/// until <c>parties</c> of them have arrived, then all proceed and the barrier starts its next generation.
/// </summary>
public interface IBarrierGrain : IGrainWithStringKey
{
    /// <summary>
    /// Sets the number of parties. <see cref="ArgumentOutOfRangeException"/> if below 1; <see cref="InvalidOperationException"/>
    /// if callers are waiting and the number changes.
    /// </summary>
    Task Configure(int parties);

    /// <summary>Arrives and blocks until the generation is complete. <see cref="InvalidOperationException"/> before <see cref="Configure"/>.</summary>
    Task<BarrierArrival> SignalAndWait();

    /// <summary>Breaks the current generation: its waiters get <see cref="BrokenBarrierException"/>; the barrier starts a new generation. Returns how many were waiting.</summary>
    Task<int> Reset();

    /// <summary>The number of callers that must arrive before a generation proceeds.</summary>
    [ReadOnly] Task<int> Parties();

    /// <summary>Callers waiting in the current generation.</summary>
    [ReadOnly] Task<int> ArrivedCount();

    /// <summary>The current generation (completed and reset generations before it).</summary>
    [ReadOnly] Task<long> Generation();
}

[GenerateSerializer]
internal sealed class BarrierState
{
    [Id(0)] public int Parties { get; set; }
    [Id(1)] public long Generation { get; set; }
    [Id(2)] public List<CallId> Arrived { get; set; } = [];
}

internal sealed class BarrierGrain : ReplicatedGrain<BarrierState>, IBarrierGrain
{
    public Task Configure(int parties)
    {
        if (parties < 1) throw new ArgumentOutOfRangeException(nameof(parties), parties, "A barrier needs at least one party.");
        if (State.Arrived.Count > 0 && parties != State.Parties)
        {
            throw new InvalidOperationException(
                $"Barrier '{this.GetPrimaryKeyString()}': {State.Arrived.Count} caller(s) are waiting; the number of parties cannot change from {State.Parties} to {parties} now.");
        }

        State.Parties = parties;
        return Task.CompletedTask;
    }

    public Task<BarrierArrival> SignalAndWait()
    {
        if (State.Parties == 0)
        {
            throw new InvalidOperationException($"Barrier '{this.GetPrimaryKeyString()}' has no parties; call Configure(parties) first.");
        }

        int index = State.Arrived.Count;
        if (index + 1 < State.Parties)
        {
            State.Arrived.Add(Replicated.Call);
            return Replicated.Defer<BarrierArrival>();
        }

        var generation = State.Generation;
        for (int i = 0; i < State.Arrived.Count; i++) Replicated.Complete(State.Arrived[i], new BarrierArrival(generation, i));
        State.Arrived.Clear();
        State.Generation++;
        return Task.FromResult(new BarrierArrival(generation, index));
    }

    public Task<int> Reset()
    {
        int waiting = State.Arrived.Count;
        foreach (var call in State.Arrived)
        {
            Replicated.Fail(call, new BrokenBarrierException($"Barrier '{this.GetPrimaryKeyString()}' was reset in generation {State.Generation}."));
        }

        State.Arrived.Clear();
        State.Generation++;
        return Task.FromResult(waiting);
    }

    public Task<int> Parties() => Task.FromResult(State.Parties);

    public Task<int> ArrivedCount() => Task.FromResult(State.Arrived.Count);

    public Task<long> Generation() => Task.FromResult(State.Generation);
}

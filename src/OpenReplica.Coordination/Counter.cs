using Orleans.Concurrency;
using OpenReplica.Orleans;

namespace OpenReplica.Coordination;

/// <summary>A replicated 64-bit counter (an atomic integer).</summary>
public interface ICounterGrain : IGrainWithStringKey
{
    /// <summary>Adds <paramref name="delta"/> (may be negative) and returns the new value. <see cref="OverflowException"/> on overflow.</summary>
    Task<long> Add(long delta);

    /// <summary>The current value.</summary>
    [ReadOnly] Task<long> Get();

    /// <summary>Sets the value to <paramref name="value"/> if it is <paramref name="expected"/>; returns whether it did.</summary>
    Task<bool> CompareAndSet(long expected, long value);
}

[GenerateSerializer]
internal sealed class CounterState
{
    [Id(0)] public long Value { get; set; }
}

internal sealed class CounterGrain : ReplicatedGrain<CounterState>, ICounterGrain
{
    public Task<long> Add(long delta)
    {
        State.Value = checked(State.Value + delta);
        return Task.FromResult(State.Value);
    }

    public Task<long> Get() => Task.FromResult(State.Value);

    public Task<bool> CompareAndSet(long expected, long value)
    {
        if (State.Value != expected) return Task.FromResult(false);
        State.Value = value;
        return Task.FromResult(true);
    }
}

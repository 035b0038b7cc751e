using OpenReplica.Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace OpenReplica.Deploy;

[GenerateSerializer]
public sealed class CounterState
{
    /// <summary>Sum of every amount added, in log order.</summary>
    [Id(0)] public long Value { get; set; }

    /// <summary>How many Add calls were applied: with exactly-once, the number of acknowledged calls.</summary>
    [Id(1)] public long Adds { get; set; }
}

/// <summary>Where an activation runs: silo name, address and OS process id.</summary>
[GenerateSerializer, Immutable]
public sealed record SiloInfo([property: Id(0)] string Name, [property: Id(1)] string Address, [property: Id(2)] int ProcessId);

public interface ICounterGrain : IGrainWithStringKey
{
    /// <summary>Adds <paramref name="amount"/>; returns the new value. Chosen into the grain's log before it runs.</summary>
    Task<long> Add(long amount);

    /// <summary>The current value (linearizable read through a read-index barrier, no log write).</summary>
    [ReadOnly]
    Task<CounterState> Get();

    /// <summary>The silo this activation runs on.</summary>
    [ReadOnly]
    Task<SiloInfo> WhereAmI();
}

/// <summary>A replicated counter: the grain the deployment guide and tests write to.</summary>
public sealed class CounterGrain(ILocalSiloDetails silo) : ReplicatedGrain<CounterState>, ICounterGrain
{
    public Task<long> Add(long amount)
    {
        State.Value += amount;
        State.Adds++;
        return Task.FromResult(State.Value);
    }

    public Task<CounterState> Get() => Task.FromResult(new CounterState { Value = State.Value, Adds = State.Adds });

    public Task<SiloInfo> WhereAmI() => Task.FromResult(new SiloInfo(silo.Name, silo.SiloAddress.ToString(), Environment.ProcessId));
}

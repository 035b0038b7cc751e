using OpenReplica.Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace OpenReplica.LoadTest;

/// <summary>The one interface every scenario drives: a counter with a write and a read-only read.</summary>
public interface ICounterGrain : IGrainWithStringKey
{
    /// <summary>Adds one; returns the new value.</summary>
    Task<long> Increment();

    [ReadOnly]
    Task<long> Get();

    /// <summary>The silo hosting this activation (to pick a grain off the primary silo for the failover test).</summary>
    [ReadOnly]
    Task<string> Host();
}

/// <summary>Scenario 1, the ceiling: an ordinary in-memory grain (default Orleans scheduling, no persistence).</summary>
public sealed class PlainCounterGrain(ILocalSiloDetails silo) : Grain, ICounterGrain
{
    private long _value;

    public Task<long> Increment() => Task.FromResult(++_value);

    public Task<long> Get() => Task.FromResult(_value);

    public Task<string> Host() => Task.FromResult(silo.SiloAddress.ToString());
}

[GenerateSerializer]
public sealed class CounterState
{
    [Id(0)] public long Value { get; set; }
}

/// <summary>Scenarios 2 and 3: the same counter as a replicated grain (mode and factor come from the silo options).</summary>
public sealed class ReplicatedCounterGrain(ILocalSiloDetails silo) : ReplicatedGrain<CounterState>, ICounterGrain
{
    public Task<long> Increment() => Task.FromResult(++State.Value);

    public Task<long> Get() => Task.FromResult(State.Value);

    public Task<string> Host() => Task.FromResult(silo.SiloAddress.ToString());
}

public static class GrainClasses
{
    public const string Plain = "OpenReplica.LoadTest.PlainCounterGrain";
    public const string Replicated = "OpenReplica.LoadTest.ReplicatedCounterGrain";
}

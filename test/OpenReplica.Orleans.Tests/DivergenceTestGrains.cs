using System.Diagnostics.CodeAnalysis;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

[GenerateSerializer]
public sealed class DriftState
{
    [Id(0)] public long Total { get; set; }

    [Id(1)] public Guid Tag { get; set; }
}

public interface IDriftingGrain : IGrainWithStringKey
{
    Task<long> Add(long amount);

    /// <summary>Tags the state with a fresh Guid: not deterministic until <see cref="DriftingGrain.Fixed"/>.</summary>
    Task Tag();

    [ReadOnly]
    Task<long> Total();

    [ReadOnly]
    Task Deactivate();

    [ReadOnly]
    Task<SiloAddress> GetSilo();
}

/// <summary>
/// A grain with one deliberately non-deterministic method, for divergence detection: live, <see cref="Tag"/> draws
/// a fresh Guid; a replay draws another. <see cref="Fixed"/> stands for deploying the corrected code (every silo of
/// the test runs in this process).
/// </summary>
public sealed class DriftingGrain(ILocalSiloDetails silo) : ReplicatedGrain<DriftState>, IDriftingGrain
{
    public static volatile bool Fixed;

    public Task<long> Add(long amount)
    {
        State.Total += amount;
        return Task.FromResult(State.Total);
    }

    [SuppressMessage("OpenReplica.Determinism", "ORD002", Justification = "Deliberately non-deterministic: the divergence test needs a replay that differs from the live run")]
    public Task Tag()
    {
        State.Tag = Fixed ? Replicated.NewGuid() : Guid.NewGuid();
        return Task.CompletedTask;
    }

    public Task<long> Total() => Task.FromResult(State.Total);

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public Task<SiloAddress> GetSilo() => Task.FromResult(silo.SiloAddress);
}

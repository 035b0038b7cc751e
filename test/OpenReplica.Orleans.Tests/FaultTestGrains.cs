using System.Collections.Concurrent;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

// Grains of the fault-injection tests (FaultTests*.cs).

[GenerateSerializer]
public sealed class BankState
{
    [Id(0)] public Dictionary<string, long> Accounts { get; set; } = [];

    /// <summary>Ids of the transfers applied, in log order (a transfer that threw is rolled back and not listed).</summary>
    [Id(1)] public List<long> Applied { get; set; } = [];
}

public interface IBankGrain : IGrainWithStringKey
{
    /// <summary>Opens the accounts once; later calls change nothing.</summary>
    Task Open(Dictionary<string, long> accounts);

    /// <summary>Moves money; throws <see cref="InsufficientFundsException"/> (after changing State: rolled back) when short.</summary>
    Task Transfer(long id, string from, string to, long amount);

    [ReadOnly]
    Task<long> Total();

    [ReadOnly]
    Task<Dictionary<string, long>> Balances();

    [ReadOnly]
    Task<List<long>> AppliedTransfers();

    [ReadOnly]
    Task<SiloAddress> GetSilo();
}

public sealed class BankGrain(ILocalSiloDetails silo) : ReplicatedGrain<BankState>, IBankGrain
{
    public Task Open(Dictionary<string, long> accounts)
    {
        if (State.Accounts.Count == 0) State.Accounts = new Dictionary<string, long>(accounts);
        return Task.CompletedTask;
    }

    public Task Transfer(long id, string from, string to, long amount)
    {
        State.Applied.Add(id);
        State.Accounts[from] -= amount;
        if (State.Accounts[from] < 0) throw new InsufficientFundsException($"transfer {id}: {from} is short by {-State.Accounts[from]}");
        State.Accounts[to] += amount;
        return Task.CompletedTask;
    }

    public Task<long> Total() => Task.FromResult(State.Accounts.Values.Sum());

    public Task<Dictionary<string, long>> Balances() => Task.FromResult(new Dictionary<string, long>(State.Accounts));

    public Task<List<long>> AppliedTransfers() => Task.FromResult(State.Applied.ToList());

    public Task<SiloAddress> GetSilo() => Task.FromResult(silo.SiloAddress);
}

[GenerateSerializer]
public sealed class RegisterState
{
    [Id(0)] public long? Value { get; set; }

    /// <summary>Every value written (by Write or a successful Cas), in log order.</summary>
    [Id(1)] public List<long> Written { get; set; } = [];
}

public interface ICasRegisterGrain : IGrainWithStringKey
{
    [ReadOnly]
    Task<long?> Read();

    Task Write(long value);

    Task<bool> Cas(long? expected, long value);

    [ReadOnly]
    Task<List<long>> Written();

    [ReadOnly]
    Task<SiloAddress> GetSilo();
}

/// <summary>The register; <see cref="ShadowRegisterGrain"/> is the same code under another grain type (duplicate-activation test).</summary>
public abstract class RegisterGrainBase(ILocalSiloDetails silo) : ReplicatedGrain<RegisterState>, ICasRegisterGrain
{
    /// <summary>Activations and deactivations per grain id (type/key), to observe fencing.</summary>
    public static ConcurrentDictionary<string, int> Activations { get; } = new();

    public static ConcurrentDictionary<string, int> Deactivations { get; } = new();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        Activations.AddOrUpdate(this.GetGrainId().ToString(), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }

    public override Task OnDeactivateAsync(DeactivationReason reason, CancellationToken cancellationToken)
    {
        Deactivations.AddOrUpdate(this.GetGrainId().ToString(), 1, (_, n) => n + 1);
        return Task.CompletedTask;
    }

    public Task<long?> Read() => Task.FromResult(State.Value);

    public Task Write(long value)
    {
        State.Value = value;
        State.Written.Add(value);
        return Task.CompletedTask;
    }

    public Task<bool> Cas(long? expected, long value)
    {
        if (State.Value != expected) return Task.FromResult(false);
        State.Value = value;
        State.Written.Add(value);
        return Task.FromResult(true);
    }

    public Task<List<long>> Written() => Task.FromResult(State.Written.ToList());

    public Task<SiloAddress> GetSilo() => Task.FromResult(silo.SiloAddress);
}

[GrainType(TypeName)]
public sealed class CasRegisterGrain(ILocalSiloDetails silo) : RegisterGrainBase(silo)
{
    public const string TypeName = "casregister";
}

/// <summary>
/// A second grain type with the register's code. In the duplicate-activation test its activations are wired (by
/// <see cref="ShadowingReplicator"/>) to the group of the <see cref="CasRegisterGrain"/> of the same key: a forced second
/// activation of that grain, on another silo, that Orleans does not know is a duplicate.
/// </summary>
[GrainType(TypeName)]
public sealed class ShadowRegisterGrain(ILocalSiloDetails silo) : RegisterGrainBase(silo)
{
    public const string TypeName = "casregister-shadow";
}

[GenerateSerializer]
public sealed class CounterRejectedException : Exception
{
    public CounterRejectedException(string message)
        : base(message)
    {
    }
}

[GenerateSerializer]
public sealed class CounterState
{
    [Id(0)] public long Value { get; set; }

    /// <summary>How many commands ran without throwing (one per successful Add).</summary>
    [Id(1)] public long Commands { get; set; }
}

public interface ICounterGrain : IGrainWithStringKey
{
    Task<long> Add(long amount);

    /// <summary>Changes State, then throws <see cref="CounterRejectedException"/>: the change must not survive, live or replayed.</summary>
    Task<long> AddThenFail(long amount, string reason);

    [ReadOnly]
    Task<CounterState> Get();

    /// <summary>Asks Orleans to deactivate this activation once idle (read-only: not logged, so replay does not repeat it).</summary>
    [ReadOnly]
    Task Deactivate();

    /// <summary>Adds, then asks Orleans to deactivate this activation once idle, from a logged call: replay sees it too.</summary>
    Task<long> AddThenDeactivate(long amount);

    /// <summary>This activation's id (a deactivated grain's next activation has another).</summary>
    [ReadOnly]
    Task<string> GetActivation();

    [ReadOnly]
    Task<SiloAddress> GetSilo();
}

public sealed class CounterGrain(ILocalSiloDetails silo) : ReplicatedGrain<CounterState>, ICounterGrain
{
    public Task<long> Add(long amount)
    {
        State.Value += amount;
        State.Commands++;
        return Task.FromResult(State.Value);
    }

    public Task<long> AddThenFail(long amount, string reason)
    {
        State.Value += amount;
        State.Commands++;
        throw new CounterRejectedException(reason);
    }

    public Task<CounterState> Get() => Task.FromResult(new CounterState { Value = State.Value, Commands = State.Commands });

    public Task Deactivate()
    {
        DeactivateOnIdle();
        return Task.CompletedTask;
    }

    public Task<long> AddThenDeactivate(long amount)
    {
        DeactivateOnIdle();
        return Add(amount);
    }

    public Task<string> GetActivation() => Task.FromResult(GrainContext.ActivationId.ToString());

    public Task<SiloAddress> GetSilo() => Task.FromResult(silo.SiloAddress);
}

using OpenReplica.Orleans;
using Orleans.Concurrency;

namespace OpenReplica.Chaos;

/// <summary>A compare-and-set register (the Jepsen register workload), checked for linearizability.</summary>
public interface IChaosRegisterGrain : IGrainWithStringKey
{
    [ReadOnly]
    Task<long> Read();

    Task Write(long value);

    /// <summary>Sets <paramref name="value"/> if the register holds <paramref name="expected"/>; says whether it did.</summary>
    Task<bool> Cas(long expected, long value);
}

[GenerateSerializer]
public sealed class RegisterState
{
    [Id(0)] public long Value { get; set; }
}

public sealed class ChaosRegisterGrain : ReplicatedGrain<RegisterState>, IChaosRegisterGrain
{
    public Task<long> Read() => Task.FromResult(State.Value);

    public Task Write(long value)
    {
        State.Value = value;
        return Task.CompletedTask;
    }

    public Task<bool> Cas(long expected, long value)
    {
        if (State.Value != expected) return Task.FromResult(false);
        State.Value = value;
        return Task.FromResult(true);
    }
}

/// <summary>ConCoord's bank: accounts in one replicated object; a transfer never creates or destroys money.</summary>
public interface IChaosBankGrain : IGrainWithStringKey
{
    /// <summary>Moves <paramref name="amount"/>; false (and nothing moves) when <paramref name="from"/> has less.</summary>
    Task<bool> Transfer(int from, int to, long amount);

    [ReadOnly]
    Task<long[]> Balances();
}

[GenerateSerializer]
public sealed class BankState
{
    [Id(0)] public long[]? Accounts { get; set; }
}

public sealed class ChaosBankGrain : ReplicatedGrain<BankState>, IChaosBankGrain
{
    public const int Accounts = 5;
    public const long InitialBalance = 100;

    public Task<bool> Transfer(int from, int to, long amount)
    {
        var accounts = Open();
        if (from == to || amount <= 0 || accounts[from] < amount) return Task.FromResult(false);
        accounts[from] -= amount;
        accounts[to] += amount;
        return Task.FromResult(true);
    }

    public Task<long[]> Balances() => Task.FromResult(State.Accounts is { } a ? a.ToArray() : Enumerable.Repeat(InitialBalance, Accounts).ToArray());

    private long[] Open() => State.Accounts ??= Enumerable.Repeat(InitialBalance, Accounts).ToArray();
}

/// <summary>A key-value map whose values are lists that only grow (Jepsen's list-append): lost or duplicated appends show.</summary>
public interface IChaosAppendGrain : IGrainWithStringKey
{
    Task Append(string key, long value);

    [ReadOnly]
    Task<long[]> Read(string key);
}

[GenerateSerializer]
public sealed class AppendState
{
    [Id(0)] public Dictionary<string, List<long>> Lists { get; set; } = [];
}

public sealed class ChaosAppendGrain : ReplicatedGrain<AppendState>, IChaosAppendGrain
{
    public Task Append(string key, long value)
    {
        if (!State.Lists.TryGetValue(key, out var list)) State.Lists[key] = list = [];
        list.Add(value);
        return Task.CompletedTask;
    }

    public Task<long[]> Read(string key) => Task.FromResult(State.Lists.TryGetValue(key, out var list) ? list.ToArray() : []);
}

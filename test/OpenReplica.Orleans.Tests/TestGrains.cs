using System.Collections.Concurrent;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

[GenerateSerializer]
public sealed class InsufficientFundsException : Exception
{
    public InsufficientFundsException(string message)
        : base(message)
    {
    }
}

[GenerateSerializer, Immutable]
public readonly record struct Note(
    [property: Id(0)] long Slot,
    [property: Id(1)] DateTimeOffset Now,
    [property: Id(2)] Guid Id,
    [property: Id(3)] int Random);

[GenerateSerializer]
public sealed class AccountState
{
    [Id(0)] public decimal Balance { get; set; }

    [Id(1)] public List<int> Items { get; set; } = [];

    [Id(2)] public List<Note> Notes { get; set; } = [];
}

public interface IAccountGrain : IGrainWithStringKey
{
    Task<decimal> Deposit(decimal amount);

    /// <summary>Changes the state, then throws when the balance is too low: the change must be rolled back.</summary>
    Task Withdraw(decimal amount);

    /// <summary>Adds x, yields, adds x again: interleaving would split the pair.</summary>
    Task AppendTwice(int x);

    /// <summary>Records the replicated context's Now, NewGuid and Random.</summary>
    Task<Note> TakeNote();

    [ReadOnly]
    Task<decimal> GetBalance();

    [ReadOnly]
    Task<AccountState> GetState();

    [ReadOnly]
    Task<SiloAddress> GetSilo();

    /// <summary>The stamp the read arrived with (<see cref="CallStamp.Current"/> inside a read).</summary>
    [ReadOnly]
    Task<CallStamp> PeekStamp();
}

public sealed class AccountGrain(ILocalSiloDetails silo) : ReplicatedGrain<AccountState>, IAccountGrain
{
    /// <summary>Per grain key: the balance each activation saw in OnActivateAsync (after replay).</summary>
    public static ConcurrentDictionary<string, ConcurrentQueue<decimal>> Activations { get; } = new();

    public override Task OnActivateAsync(CancellationToken cancellationToken)
    {
        Activations.GetOrAdd(this.GetPrimaryKeyString(), _ => new()).Enqueue(State.Balance);
        return Task.CompletedTask;
    }

    public Task<decimal> Deposit(decimal amount)
    {
        State.Balance += amount;
        return Task.FromResult(State.Balance);
    }

    public Task Withdraw(decimal amount)
    {
        State.Balance -= amount;
        State.Items.Add(-1);
        if (State.Balance < 0)
        {
            throw new InsufficientFundsException($"Cannot withdraw {amount}: balance would be {State.Balance}.");
        }

        return Task.CompletedTask;
    }

    public async Task AppendTwice(int x)
    {
        State.Items.Add(x);
        await Task.Yield();
        State.Items.Add(x);
    }

    public Task<Note> TakeNote()
    {
        var note = new Note(Replicated.Slot, Replicated.Now, Replicated.NewGuid(), Replicated.Random.Next());
        State.Notes.Add(note);
        return Task.FromResult(note);
    }

    public Task<decimal> GetBalance() => Task.FromResult(State.Balance);

    public Task<CallStamp> PeekStamp() => Task.FromResult(CallStamp.Current);

    public Task<AccountState> GetState() => Task.FromResult(State);

    public Task<SiloAddress> GetSilo() => Task.FromResult(silo.SiloAddress);
}

/// <summary>A plain grain calling a replicated one: its calls are stamped by the silo's session.</summary>
public interface IForwarderGrain : IGrainWithStringKey
{
    Task<decimal> DepositTo(string account, decimal amount);

    /// <summary>Reads <paramref name="account"/>'s <c>PeekStamp</c> while this call's context holds another call's stamp.</summary>
    Task<CallStamp> PeekStampWithInheritedStamp(string account);

    Task<SiloAddress> GetSilo();
}

public sealed class ForwarderGrain(ILocalSiloDetails silo) : Grain, IForwarderGrain
{
    public Task<decimal> DepositTo(string account, decimal amount) => GrainFactory.GetGrain<IAccountGrain>(account).Deposit(amount);

    public Task<CallStamp> PeekStampWithInheritedStamp(string account)
    {
        RequestContext.Set(CallStamp.RequestContextKey, new CallStamp(Guid.NewGuid(), 1, 1));
        return GrainFactory.GetGrain<IAccountGrain>(account).PeekStamp();
    }

    public Task<SiloAddress> GetSilo() => Task.FromResult(silo.SiloAddress);
}

using System.Collections.Concurrent;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

public interface IOutboxAccount : IGrainWithStringKey
{
    /// <summary>Takes <paramref name="amount"/> from this account and, after the call is chosen, deposits it to <paramref name="to"/> (an outbox effect).</summary>
    Task Transfer(string to, int amount);

    /// <summary>Like <see cref="Transfer"/>, but throws after declaring the effect: nothing may happen.</summary>
    Task TransferThenFail(string to, int amount);

    /// <summary>Declares an effect Orleans cannot serialize: the call must fail and change nothing.</summary>
    Task TransferUnserializable(int amount);

    Task Deposit(int amount);

    [ReadOnly]
    Task<AccountView> View();

    [ReadOnly]
    Task<SiloAddress> GetSilo();
}

[GenerateSerializer]
public sealed record AccountView([property: Id(0)] int Balance, [property: Id(1)] int Deposits);

[GenerateSerializer]
public sealed class OutboxAccountState
{
    [Id(0)] public int Balance { get; set; }
    [Id(1)] public int Deposits { get; set; }
}

[GenerateSerializer]
public sealed record DepositEffect([property: Id(0)] string To, [property: Id(1)] int Amount);

/// <summary>Deliberately without [GenerateSerializer].</summary>
public sealed class UnserializableEffect(int amount)
{
    public int Amount { get; } = amount;
}

/// <summary>What a test wants an account's effect to do after its deposit, and what the effects did (by source account key).</summary>
public static class OutboxHooks
{
    /// <summary>Throw after the deposit on this many first attempts.</summary>
    public static readonly ConcurrentDictionary<string, int> FailFirstAttempts = new();

    /// <summary>Hang (until cancelled) after the deposit when the effect runs on this silo.</summary>
    public static readonly ConcurrentDictionary<string, SiloAddress> HangOnSilo = new();

    /// <summary>Every run of an effect that got past its deposit: (source account, effect id, attempt, silo, finished).</summary>
    public static readonly ConcurrentQueue<(string Account, Guid Effect, int Attempt, SiloAddress Silo, bool Finished)> Runs = new();
}

public sealed class OutboxAccountGrain(ILocalSiloDetails silo) : ReplicatedGrain<OutboxAccountState>, IOutboxAccount
{
    public Task Transfer(string to, int amount)
    {
        State.Balance -= amount;
        Replicated.AfterCommit(new DepositEffect(to, amount));
        return Task.CompletedTask;
    }

    public Task TransferThenFail(string to, int amount)
    {
        State.Balance -= amount;
        Replicated.AfterCommit(new DepositEffect(to, amount));
        throw new InvalidOperationException("refused after declaring the effect");
    }

    public Task TransferUnserializable(int amount)
    {
        State.Balance -= amount;
        Replicated.AfterCommit(new UnserializableEffect(amount));
        return Task.CompletedTask;
    }

    public Task Deposit(int amount)
    {
        State.Balance += amount;
        State.Deposits++;
        return Task.CompletedTask;
    }

    public Task<AccountView> View() => Task.FromResult(new AccountView(State.Balance, State.Deposits));

    public Task<SiloAddress> GetSilo() => Task.FromResult(silo.SiloAddress);

    protected override async Task OnEffectAsync(ReplicatedEffect effect, CancellationToken cancellationToken)
    {
        var deposit = (DepositEffect)effect.Value;
        await GrainFactory.GetGrain<IOutboxAccount>(deposit.To).Deposit(deposit.Amount);
        string me = this.GetPrimaryKeyString();
        bool hang = OutboxHooks.HangOnSilo.TryGetValue(me, out var hangHere) && hangHere.Equals(silo.SiloAddress);
        bool fail = OutboxHooks.FailFirstAttempts.TryGetValue(me, out int failures) && effect.Attempt <= failures;
        OutboxHooks.Runs.Enqueue((me, effect.Id, effect.Attempt, silo.SiloAddress, !hang && !fail));
        if (hang) await Task.Delay(Timeout.Infinite, cancellationToken);
        if (fail) throw new InvalidOperationException($"effect attempt {effect.Attempt} fails on purpose after its deposit");
    }
}

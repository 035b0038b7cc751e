using System.Collections.Immutable;
using OpenReplica.Orleans;
using Orleans.Concurrency;
using Orleans.Runtime;

namespace Quickstart;

/// <summary>One operation the grain applied, in log order: its id and what it did to the balance.</summary>
[GenerateSerializer, Immutable]
public readonly record struct AppliedOp([property: Id(0)] long Id, [property: Id(1)] long Delta);

[GenerateSerializer]
public sealed class AccountState
{
    [Id(0)] public long Balance { get; set; }

    [Id(1)] public long Deposited { get; set; }

    [Id(2)] public long Withdrawn { get; set; }

    /// <summary>
    /// Every operation applied, in log order. Nothing deduplicates it: an operation that ran twice appears twice.
    /// Immutable, so copying the state before each command (for rollback) does not copy the list.
    /// </summary>
    [Id(3)] public ImmutableList<AppliedOp> Applied { get; set; } = [];
}

/// <summary>Where an activation runs: the silo address and the OS process id of the silo.</summary>
[GenerateSerializer, Immutable]
public sealed record HostInfo([property: Id(0)] string Silo, [property: Id(1)] int ProcessId);

public interface IAccountGrain : IGrainWithStringKey
{
    /// <summary>Adds <paramref name="amount"/>; returns the new balance.</summary>
    Task<long> Deposit(long opId, long amount);

    /// <summary>Takes <paramref name="amount"/> if the balance allows it; false means declined (no change).</summary>
    Task<bool> Withdraw(long opId, long amount);

    [ReadOnly]
    Task<AccountState> GetState();

    [ReadOnly]
    Task<HostInfo> GetHost();
}

/// <summary>
/// A bank account. Every Deposit/Withdraw is chosen into the grain's Paxos log before it runs, on every replica
/// and again on replay, so it must be deterministic: it reads only its arguments and <c>State</c>.
/// </summary>
public sealed class AccountGrain(ILocalSiloDetails silo) : ReplicatedGrain<AccountState>, IAccountGrain
{
    public Task<long> Deposit(long opId, long amount)
    {
        State.Balance += amount;
        State.Deposited += amount;
        State.Applied = State.Applied.Add(new AppliedOp(opId, amount));
        return Task.FromResult(State.Balance);
    }

    public Task<bool> Withdraw(long opId, long amount)
    {
        bool accepted = State.Balance >= amount;
        if (accepted)
        {
            State.Balance -= amount;
            State.Withdrawn += amount;
        }

        State.Applied = State.Applied.Add(new AppliedOp(opId, accepted ? -amount : 0));
        return Task.FromResult(accepted);
    }

    public Task<AccountState> GetState() => Task.FromResult(State);

    public Task<HostInfo> GetHost() => Task.FromResult(new HostInfo(silo.SiloAddress.ToString(), Environment.ProcessId));
}

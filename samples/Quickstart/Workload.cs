using System.Collections.Concurrent;
using System.Diagnostics;

namespace Quickstart;

public enum OpKind
{
    Deposit,
    Withdraw,
}

/// <summary>One operation as the client saw it. <see cref="Acknowledged"/>: the grain's reply arrived.</summary>
public sealed class OpRecord(long id, string account, OpKind kind, long amount, long startedAt)
{
    public long Id { get; } = id;

    public string Account { get; } = account;

    public OpKind Kind { get; } = kind;

    public long Amount { get; } = amount;

    public long StartedAt { get; } = startedAt;

    public bool Acknowledged { get; set; }

    /// <summary>Change of the balance, from the reply: +amount, -amount, or 0 for a declined withdrawal.</summary>
    public long Delta { get; set; }

    public long AcknowledgedAt { get; set; }

    public string? Error { get; set; }
}

/// <summary>
/// The bank workload: <c>callers</c> concurrent loops, each doing one deposit or withdrawal at a time on a few
/// accounts (skewed, so one grain is the busiest), recording every operation in <see cref="Ledger"/> before it is
/// sent and marking it acknowledged when the reply arrives. Every id is unique; amounts come from a seeded random.
/// </summary>
public sealed class BankWorkload(IGrainFactory grains, AttemptCounter attempts, int callers)
{
    public static readonly string[] Accounts = ["alice", "bob", "carol", "dave", "erin", "frank"];
    private static readonly int[] Weights = [35, 20, 15, 10, 10, 10];

    private readonly CancellationTokenSource _stop = new();
    private Task? _running;
    private long _issued;
    private long _acknowledged;
    private long _errors;
    private (string Account, long SentAfter, TaskCompletionSource<long> Done)? _watch;

    public ConcurrentDictionary<long, OpRecord> Ledger { get; } = new();

    public long Acknowledged => Interlocked.Read(ref _acknowledged);

    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Retries made by <c>UseReplicatedGrains</c> (attempts beyond the first, each with the same stamp).</summary>
    public long Retries => Math.Max(0, attempts.Attempts - Interlocked.Read(ref _issued));

    /// <summary>Completes with the time of the first acknowledged operation on <paramref name="account"/> sent at or after <paramref name="sentAfter"/>.</summary>
    public Task<long> FirstAcknowledgedAsync(string account, long sentAfter)
    {
        var done = new TaskCompletionSource<long>(TaskCreationOptions.RunContinuationsAsynchronously);
        _watch = (account, sentAfter, done);
        return done.Task;
    }

    public void Start() => _running = Task.WhenAll(Enumerable.Range(0, callers).Select(c => Task.Run(() => CallerAsync(c))));

    /// <summary>Stops issuing operations and waits (bounded) for the ones in flight.</summary>
    public async Task StopAsync(TimeSpan drainTimeout)
    {
        _stop.Cancel();
        try
        {
            await _running!.WaitAsync(drainTimeout);
        }
        catch (TimeoutException)
        {
            // Still unanswered operations stay unacknowledged: the check treats them as in doubt.
        }
    }

    private async Task CallerAsync(int caller)
    {
        var random = new Random(caller);
        for (long sequence = 1; !_stop.IsCancellationRequested; sequence++)
        {
            var account = Accounts[PickWeighted(random)];
            var kind = random.Next(100) < 60 ? OpKind.Deposit : OpKind.Withdraw;
            var amount = random.Next(1, 101);
            var op = new OpRecord(caller * 100_000_000L + sequence, account, kind, amount, Stopwatch.GetTimestamp());
            Ledger[op.Id] = op;
            Interlocked.Increment(ref _issued);
            var grain = grains.GetGrain<IAccountGrain>(account);
            try
            {
                if (kind == OpKind.Deposit)
                {
                    await grain.Deposit(op.Id, amount);
                    op.Delta = amount;
                }
                else
                {
                    op.Delta = await grain.Withdraw(op.Id, amount) ? -amount : 0;
                }

                op.AcknowledgedAt = Stopwatch.GetTimestamp();
                op.Acknowledged = true;
                Interlocked.Increment(ref _acknowledged);
                if (_watch is { } watch && watch.Account == account && op.StartedAt >= watch.SentAfter)
                {
                    watch.Done.TrySetResult(op.AcknowledgedAt);
                }
            }
            catch (Exception exception)
            {
                // Retries (same stamp) are exhausted: the operation may or may not have been applied.
                op.Error = exception.GetType().Name;
                Interlocked.Increment(ref _errors);
                await Task.Delay(100);
            }
        }
    }

    private static int PickWeighted(Random random)
    {
        int roll = random.Next(Weights.Sum());
        for (int i = 0; i < Weights.Length; i++)
        {
            roll -= Weights[i];
            if (roll < 0)
            {
                return i;
            }
        }

        return Weights.Length - 1;
    }
}

/// <summary>
/// Client call filter registered after <c>UseReplicatedGrains</c>, so it runs inside the stamping filter and sees
/// every attempt of a Deposit/Withdraw, retries included.
/// </summary>
public sealed class AttemptCounter : IOutgoingGrainCallFilter
{
    private long _attempts;

    public long Attempts => Interlocked.Read(ref _attempts);

    public Task Invoke(IOutgoingGrainCallContext context)
    {
        if (context.InterfaceMethod?.DeclaringType == typeof(IAccountGrain)
            && context.InterfaceMethod.Name is nameof(IAccountGrain.Deposit) or nameof(IAccountGrain.Withdraw))
        {
            Interlocked.Increment(ref _attempts);
        }

        return context.Invoke();
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using OpenReplica.Checker;

namespace OpenReplica.Chaos;

public enum WorkloadKind { Register, Bank, Append, Lock }

/// <summary>What a workload measured: operations by outcome, and the verdict with its explanation.</summary>
internal sealed record ChaosCellResult(int Operations, int Ok, int Failed, int Unknown, string Verdict, string Detail)
{
    /// <summary>Whether the verdict is a violation (bold in the table).</summary>
    public bool Violation => Verdict.Contains("**", StringComparison.Ordinal);
}

/// <summary>One client workload of a cell: runs until stopped, then checks its history.</summary>
internal interface IChaosWorkload
{
    WorkloadKind Kind { get; }

    /// <summary>Whether a replicated group (its id from the status API) belongs to this workload's grains.</summary>
    bool Owns(string groupId);

    Task RunAsync(Stopwatch clock, CancellationToken stop);

    Task<ChaosCellResult> CheckAsync(TimeSpan budget);
}

/// <summary>
/// Outcome counting shared by the workloads. <c>ok</c>: the call returned. <c>failed</c>: a read that threw (it had no
/// effect, so it is left out of the history). <c>unknown</c>: a write that threw or timed out: it may or may not have
/// happened, and the history keeps it as indeterminate.
/// </summary>
internal sealed class Tally
{
    /// <summary>
    /// Reads give up sooner than writes (which wait the cell's call timeout): a read that failed had no effect, and a
    /// client blocked on a faulted silo calls again soon, so a grain's recovery is measured to about this precision.
    /// </summary>
    public static readonly TimeSpan ReadTimeout = TimeSpan.FromSeconds(2);

    private int _ok, _failed, _unknown;
    public void Ok() => Interlocked.Increment(ref _ok);
    public void Failed() => Interlocked.Increment(ref _failed);
    public void Unknown() => Interlocked.Increment(ref _unknown);
    public ChaosCellResult Result(string verdict, string detail) => new(_ok + _failed + _unknown, _ok, _failed, _unknown, verdict, detail);
}

/// <summary>Clients on CAS registers; the history of each register is checked with <see cref="Linearizability"/>.</summary>
internal sealed class RegisterWorkload(IClusterClient client, int clients, int registers, int seed, TimeSpan callTimeout, Availability availability)
    : IChaosWorkload
{
    private readonly ConcurrentBag<(int Register, Operation<CasInput, CasOutput> Op)> _history = [];
    private readonly Tally _tally = new();
    private readonly string _prefix = $"chaos-{seed}-{Guid.NewGuid():N}"[..24];
    private int _nextProcess;

    public WorkloadKind Kind => WorkloadKind.Register;

    public bool Owns(string groupId) => groupId.Contains(_prefix, StringComparison.Ordinal);

    public Task RunAsync(Stopwatch clock, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, clients).Select(c => ClientAsync(new Random(HashCode.Combine(seed, c)), clock, stop)));

    private async Task ClientAsync(Random random, Stopwatch clock, CancellationToken stop)
    {
        int process = Interlocked.Increment(ref _nextProcess);
        while (!stop.IsCancellationRequested)
        {
            int register = random.Next(registers);
            var grain = client.GetGrain<IChaosRegisterGrain>($"{_prefix}-{register}");
            int kind = random.Next(3);
            var input = kind switch
            {
                0 => new CasInput(CasOp.Read),
                1 => new CasInput(CasOp.Write, random.Next(5)),
                _ => new CasInput(CasOp.Cas, random.Next(5), random.Next(5)),
            };
            long call = clock.ElapsedTicks;
            try
            {
                CasOutput output = kind switch
                {
                    0 => new CasOutput(await grain.Read().WaitAsync(Tally.ReadTimeout)),
                    1 => await Write(grain, input.Value!.Value),
                    _ => new CasOutput(null, await grain.Cas(input.Expected!.Value, input.Value!.Value).WaitAsync(callTimeout)),
                };
                _history.Add((register, new Operation<CasInput, CasOutput>(process, input, output, call, clock.ElapsedTicks)));
                availability.Ok(grain.GetPrimaryKeyString(), call, clock.ElapsedTicks);
                _tally.Ok();
            }
            catch (Exception) when (kind == 0)
            {
                _tally.Failed();
            }
            catch (Exception)
            {
                // Indeterminate: it may still take effect at any later time. A new process id takes over (as in Jepsen),
                // since this one never returned.
                _history.Add((register, new Operation<CasInput, CasOutput>(process, input, null, call, null)));
                _tally.Unknown();
                process = Interlocked.Increment(ref _nextProcess);
                await Task.Delay(100, CancellationToken.None);
            }
        }

        async Task<CasOutput> Write(IChaosRegisterGrain g, long value)
        {
            await g.Write(value).WaitAsync(callTimeout);
            return new CasOutput(null);
        }
    }

    public Task<ChaosCellResult> CheckAsync(TimeSpan budget) => Task.FromResult(Check(budget));

    private ChaosCellResult Check(TimeSpan budget)
    {
        var verdicts = new List<string>();
        var bad = new List<string>();
        foreach (var group in _history.GroupBy(h => h.Register).OrderBy(g => g.Key))
        {
            var ops = group.Select(h => h.Op).OrderBy(o => o.Call).ToArray();
            var result = Linearizability.Check(Models.CasRegisterStartingWith(0), ops, budget);
            verdicts.Add(result.Verdict.ToString());
            if (result.Verdict != Verdict.Linearizable) bad.Add($"register {group.Key}: {result}");
        }
        string verdict = verdicts.All(v => v == nameof(Verdict.Linearizable)) ? "linearizable"
            : verdicts.Contains(nameof(Verdict.NotLinearizable)) ? "**NOT linearizable**" : "unknown (checker budget)";
        return _tally.Result(verdict, string.Join("; ", bad));
    }
}

/// <summary>
/// Transfers between the accounts of one bank object; every read during the run and a final read after healing must
/// show the initial total.
/// </summary>
internal sealed class BankWorkload(IClusterClient client, int clients, int seed, TimeSpan callTimeout, Availability availability) : IChaosWorkload
{
    private readonly Tally _tally = new();
    private readonly ConcurrentBag<string> _violations = [];
    private readonly IChaosBankGrain _bank = client.GetGrain<IChaosBankGrain>($"bank-{seed}-{Guid.NewGuid():N}");
    private const long Total = ChaosBankGrain.Accounts * ChaosBankGrain.InitialBalance;

    public WorkloadKind Kind => WorkloadKind.Bank;

    public bool Owns(string groupId) => groupId.EndsWith("/" + _bank.GetPrimaryKeyString(), StringComparison.Ordinal);

    public Task RunAsync(Stopwatch clock, CancellationToken stop) =>
        Task.WhenAll(Enumerable.Range(0, clients).Select(c => ClientAsync(new Random(HashCode.Combine(seed, c)), clock, stop)));

    private async Task ClientAsync(Random random, Stopwatch clock, CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            bool read = random.Next(4) == 0;
            long call = clock.ElapsedTicks;
            try
            {
                if (read) CheckTotal(await _bank.Balances().WaitAsync(Tally.ReadTimeout), $"read at {clock.Elapsed.TotalSeconds:0.0}s");
                else await _bank.Transfer(random.Next(ChaosBankGrain.Accounts), random.Next(ChaosBankGrain.Accounts), 1 + random.Next(20)).WaitAsync(callTimeout);
                availability.Ok(_bank.GetPrimaryKeyString(), call, clock.ElapsedTicks);
                _tally.Ok();
            }
            catch (Exception) when (read)
            {
                _tally.Failed();
            }
            catch (Exception)
            {
                _tally.Unknown();
                await Task.Delay(100, CancellationToken.None);
            }
        }
    }

    private void CheckTotal(long[] balances, string when)
    {
        long total = balances.Sum();
        if (total != Total || balances.Any(b => b < 0)) _violations.Add($"{when}: balances [{string.Join(", ", balances)}] total {total}, expected {Total}");
    }

    /// <summary>The final read, retried for a bounded time while the cluster settles after the last heal.</summary>
    public async Task<ChaosCellResult> CheckAsync(TimeSpan bound)
    {
        var deadline = Stopwatch.StartNew();
        Exception? last = null;
        while (deadline.Elapsed < bound)
        {
            try
            {
                CheckTotal(await _bank.Balances().WaitAsync(TimeSpan.FromSeconds(10)), "final read");
                return _tally.Result(_violations.IsEmpty ? "total constant" : "**total changed**", string.Join("; ", _violations.Take(3)));
            }
            catch (Exception e)
            {
                last = e;
                await Task.Delay(500);
            }
        }
        return _tally.Result(_violations.IsEmpty ? "unknown (final read failed)" : "**total changed**", $"final read failed: {last?.Message}; {string.Join("; ", _violations.Take(3))}");
    }
}

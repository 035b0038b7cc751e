using System.Collections.Concurrent;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A bank grain under concurrent transfers while its leader's silo is killed, the silo restarted from its data
/// directory, and another silo killed: money is conserved, every acknowledged transfer is applied exactly once, and
/// the replicas' logs agree on every chosen slot.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class BankFaultTests
{
    private const int Accounts = 8;
    private const long Initial = 1_000;
    private const int Callers = 16;

    private enum Outcome { Acknowledged, Rejected, Indeterminate }

    [Fact]
    public async Task Transfers_survive_killing_the_leader_a_restart_and_another_kill()
    {
        await using var cluster = await FaultCluster.StartAsync(silos: 3);
        var (bank, leader) = await cluster.GrainOffFirstSiloAsync("bank", k => cluster.Client.GetGrain<IBankGrain>(k), g => g.GetSilo());
        var names = Enumerable.Range(0, Accounts).Select(i => $"acct-{i}").ToList();
        await bank.Open(names.ToDictionary(n => n, _ => Initial));

        var outcomes = new ConcurrentDictionary<long, Outcome>();
        var errors = new ConcurrentQueue<string>();
        long nextId = 0;
        using var stop = new CancellationTokenSource();
        var callers = Enumerable.Range(0, Callers).Select(c => Task.Run(async () =>
        {
            var random = new Random(c);
            while (!stop.IsCancellationRequested)
            {
                long id = Interlocked.Increment(ref nextId);
                int from = random.Next(Accounts), to = (from + 1 + random.Next(Accounts - 1)) % Accounts;
                try
                {
                    await bank.Transfer(id, names[from], names[to], random.Next(1, 400));
                    outcomes[id] = Outcome.Acknowledged;
                }
                catch (InsufficientFundsException)
                {
                    outcomes[id] = Outcome.Rejected;
                }
                catch (Exception e)
                {
                    errors.Enqueue($"{e.GetType().Name}: {e.Message}");
                    // Retries were exhausted: the transfer may or may not have been applied.
                    outcomes[id] = Outcome.Indeterminate;
                    await Task.Delay(20);
                }
            }
        })).ToList();

        int Acknowledged() => outcomes.Values.Count(o => o == Outcome.Acknowledged);
        async Task ProgressAsync(string phase)
        {
            int before = Acknowledged();
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
            while (Acknowledged() < before + 50)
            {
                if (DateTime.UtcNow > deadline)
                {
                    Assert.Fail($"50 more acknowledged transfers {phase}: only {Acknowledged() - before}; recent failures: "
                        + $"{string.Join(" | ", errors.TakeLast(5).Distinct())}; replicas: {await cluster.DescribeAsync(FaultCluster.GroupOf(bank.GetGrainId()))}");
                }

                await Task.Delay(20);
            }
        }

        await ProgressAsync("before any fault");

        // 1. Kill the leader's silo mid-load.
        var leaderHandle = cluster.HandleOf(leader);
        await cluster.KillAsync(leaderHandle);
        await ProgressAsync("after the leader's silo died");

        // 2. Restart it from its data directory (same replica); load continues.
        var restarted = await cluster.RestartAsync(leaderHandle);
        await ProgressAsync("after the restart");

        // 3. Kill another silo (not the cluster's anchor, not the restarted one): two of three replicas remain.
        var second = cluster.Silos.Single(s => s != cluster.Cluster.Silos[0] && s != restarted);
        await cluster.KillAsync(second);
        await ProgressAsync("after the second kill");

        stop.Cancel();
        await Task.WhenAll(callers);

        long total = await Eventually.CallAsync(() => bank.Total(), "total");
        var balances = await Eventually.CallAsync(() => bank.Balances(), "balances");
        var applied = await Eventually.CallAsync(() => bank.AppliedTransfers(), "applied transfers");

        Assert.Equal(Accounts * Initial, total);
        Assert.All(balances.Values, b => Assert.True(b >= 0, $"negative balance {b}"));
        var duplicates = applied.GroupBy(id => id).Where(g => g.Count() > 1).Select(g => g.Key).ToList();
        Assert.True(duplicates.Count == 0, $"transfers applied twice: {string.Join(", ", duplicates)}");
        var appliedSet = applied.ToHashSet();
        var lost = outcomes.Where(kv => kv.Value == Outcome.Acknowledged && !appliedSet.Contains(kv.Key)).Select(kv => kv.Key).ToList();
        Assert.True(lost.Count == 0, $"acknowledged transfers not applied: {string.Join(", ", lost)}");
        var rejectedApplied = outcomes.Where(kv => kv.Value == Outcome.Rejected && appliedSet.Contains(kv.Key)).Select(kv => kv.Key).ToList();
        Assert.True(rejectedApplied.Count == 0, $"rejected transfers applied: {string.Join(", ", rejectedApplied)}");
        Assert.All(applied, id => Assert.True(outcomes.ContainsKey(id), $"transfer {id} applied but never issued"));
        Assert.True(Acknowledged() >= 200, $"only {Acknowledged()} transfers acknowledged");

        // The live replicas (the anchor and the restarted silo) agree on every chosen slot they both hold.
        var log = await cluster.AssertLogsAgreeAsync(FaultCluster.GroupOf(bank.GetGrainId()));
        Assert.True(log.Count > 0);
    }
}

using Microsoft.Extensions.DependencyInjection;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The outbox (<see cref="ReplicatedContext.AfterCommit"/>): an effect runs after its call is chosen, is retried while it
/// fails, survives the death of the silo that was running it, and its calls to replicated grains apply exactly once.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class OutboxTests
{
    private static readonly TimeSpan Failover = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task An_effect_runs_after_its_call_and_a_failing_effect_is_retried_without_applying_its_deposit_twice()
    {
        await using var cluster = await FaultCluster.StartAsync(silos: 3);
        var from = cluster.Client.GetGrain<IOutboxAccount>("retry-from");
        var to = cluster.Client.GetGrain<IOutboxAccount>("retry-to");
        OutboxHooks.FailFirstAttempts["retry-from"] = 2;

        await from.Transfer("retry-to", 10);
        Assert.Equal(-10, (await from.View()).Balance);
        await Poll.UntilAsync(() => Finished("retry-from").Any(), "the effect finished after two failed attempts", Failover);

        // Three attempts ran the deposit; the target applied it once (the attempts repeat the effect's stamps).
        Assert.Equal([1, 2, 3], Runs("retry-from").Select(r => r.Attempt));
        Assert.Single(Runs("retry-from").Select(r => r.Effect).Distinct());
        Assert.Equal(new AccountView(10, 1), await to.View());

        // A call that throws after declaring an effect declares nothing; one whose effect cannot be serialized fails.
        await Assert.ThrowsAsync<InvalidOperationException>(() => from.TransferThenFail("retry-to", 5));
        var unserializable = await Assert.ThrowsAsync<InvalidOperationException>(() => from.TransferUnserializable(7));
        Assert.Contains("cannot be serialized", unserializable.Message);
        Assert.Contains(nameof(UnserializableEffect), unserializable.Message);
        Assert.Equal(-10, (await from.View()).Balance);

        // A later effect still runs (the completed one does not run again: one more run in all, on its first attempt).
        await from.Transfer("retry-to", 1);
        await Poll.UntilAsync(async () => (await to.View()).Deposits == 2, "the second effect's deposit", Failover);
        Assert.Equal(new AccountView(11, 2), await to.View());
        Assert.Equal(4, Runs("retry-from").Count);
    }

    [Fact]
    public async Task An_effect_cut_off_by_a_silo_kill_runs_again_on_the_next_activation_and_its_deposit_applies_once()
    {
        // Snapshots every 2 commands: the pending effect also travels through a snapshot of the log.
        await using var cluster = await FaultCluster.StartAsync(silos: 3, snapshotEvery: 2);
        var (from, home) = await cluster.GrainOffFirstSiloAsync("kill-from", k => cluster.Client.GetGrain<IOutboxAccount>(k), g => g.GetSilo());
        string key = from.GetPrimaryKeyString(); // "kill-from-N": the first key whose grain is off the first silo
        var to = cluster.Client.GetGrain<IOutboxAccount>("kill-to");
        await to.Deposit(0);
        OutboxHooks.HangOnSilo[key] = home;

        await from.Transfer("kill-to", 10);
        for (int i = 0; i < 3; i++) await from.Deposit(0); // more commands: a snapshot while the effect is pending
        await Poll.UntilAsync(() => Runs(key).Any(), "the effect ran its deposit, then hung", Failover);
        Assert.Equal(new AccountView(10, 2), await to.View()); // Deposit(0) + the effect's deposit

        await cluster.KillAsync(cluster.HandleOf(home));
        // Any call activates the grain elsewhere; the new activation runs the unfinished effect again.
        Assert.NotEqual(home, await Eventually.CallAsync(() => from.GetSilo(), "the grain after the kill", Failover));
        await Poll.UntilAsync(() => Finished(key).Any(), "the effect finished on the new activation", Failover);

        var runs = Runs(key);
        Assert.Equal(home, runs[0].Silo);
        Assert.NotEqual(home, runs[^1].Silo);
        Assert.Single(runs.Select(r => r.Effect).Distinct());
        Assert.Equal(new AccountView(10, 2), await to.View()); // the repeated deposit was answered, not applied again
        Assert.Equal(-10, (await from.View()).Balance);
    }

    private static List<(string Account, Guid Effect, int Attempt, SiloAddress Silo, bool Finished)> Runs(string account) =>
        [.. OutboxHooks.Runs.Where(r => r.Account == account)];

    private static IEnumerable<(string Account, Guid Effect, int Attempt, SiloAddress Silo, bool Finished)> Finished(string account) =>
        Runs(account).Where(r => r.Finished);
}

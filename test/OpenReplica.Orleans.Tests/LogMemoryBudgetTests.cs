using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// <see cref="ReplicatedGrainsOptions.LogMemoryBudget"/>: the rule (<see cref="LogMemoryBudget"/>) and, on a cluster,
/// that working grains snapshot long before <see cref="ReplicatedGrainsOptions.SnapshotEveryCommands"/> once their
/// silo's logs hold more than the budget, with every call kept.
/// </summary>
public sealed class LogMemoryBudgetTests
{
    private const int Grains = 8;
    private const int CallsPerGrain = 300;

    [Fact]
    public void Only_a_group_holding_at_least_the_average_and_its_snapshot_compacts_and_only_while_the_silo_is_over_budget()
    {
        var budget = new LogMemoryBudget(10_000);
        long big = 0, small = 0;
        Charge(budget, ref big, 6_000);
        Charge(budget, ref small, 3_000);
        Assert.Equal(9_000, budget.HeldBytes);
        Assert.False(budget.ShouldCompact(big, commands: 1_000), "under budget: nobody compacts");

        Charge(budget, ref small, 2_000); // 11,000 held by two groups: the average is 5,500
        Assert.True(budget.ShouldCompact(big, commands: 1_000));
        Assert.False(budget.ShouldCompact(small - 1, commands: 1_000), "below the average");
        Assert.False(budget.ShouldCompact(big, commands: LogMemoryBudget.MinCommandsBetweenSnapshots - 1), "too few commands since the last snapshot");

        Assert.False(budget.ShouldCompact(big, commands: 1_000, snapshotHeld: big + 1), "its snapshot would cost more than its log frees");
        Assert.True(budget.ShouldCompact(big, commands: 1_000, snapshotHeld: big));

        budget.Release(big); // the big group snapshotted
        Assert.Equal(5_000, budget.HeldBytes);
        Assert.False(budget.ShouldCompact(small, commands: 1_000));

        var off = new LogMemoryBudget(0);
        off.Charge(0, 1_000_000);
        Assert.False(off.ShouldCompact(1_000_000, commands: 1_000), "a budget of 0 is off");
    }

    [Fact]
    public void A_command_costs_its_payload_and_the_overhead_on_every_replica() =>
        Assert.Equal(3L * (100 + LogMemoryBudget.CommandOverheadBytes), LogMemoryBudget.SizeOf(new Command(Guid.NewGuid(), 1, 1, new byte[100]), 3));

    [Theory]
    [InlineData(256 * 1024)]
    [InlineData(0)]
    public async Task Working_grains_snapshot_early_while_their_silo_is_over_its_log_memory_budget(long budgetBytes)
    {
        var kit = await Testing.ReplicatedTestCluster.StartAsync(o =>
        {
            o.Mode = ReplicationMode.Persisted;
            o.ConfigureReplication = r => r.LogMemoryBudget = budgetBytes; // SnapshotEveryCommands stays 4,096
        });
        await using var _ = kit;
        var cluster = kit.Cluster;
        var budgets = cluster.Silos.Select(s => cluster.Service<LogMemoryBudget>(s.SiloAddress)).ToList();
        var grains = Enumerable.Range(0, Grains).Select(i => cluster.Client.GetGrain<ICounterGrain>($"budgeted-{budgetBytes}-{i}")).ToList();

        long peak = 0;
        for (int round = 0; round < CallsPerGrain; round++)
        {
            await Task.WhenAll(grains.Select(g => g.Add(1)));
            peak = Math.Max(peak, budgets.Max(b => b.HeldBytes));
        }

        var snapshotSlots = SnapshotSlots(cluster, grains, await HomesAsync(grains));
        if (budgetBytes > 0)
        {
            // Every grain snapshotted (300 commands, far below 4,096), and no silo held much more than the budget:
            // one round of calls beyond it at most, while the groups above the average compact.
            Assert.All(snapshotSlots, slot => Assert.True(slot > 0, "a working grain snapshotted for the budget"));
            long oneRound = Grains * LogMemoryBudget.SizeOf(new Command(Guid.Empty, 0, 0, new byte[512]), 3);
            Assert.InRange(peak, budgetBytes / 2, budgetBytes + oneRound);
        }
        else
        {
            Assert.All(snapshotSlots, slot => Assert.Equal(0, slot));
            // The same calls, unbudgeted, charge a silo ≈ 1 MB (8 grains' 300 commands over 3 silos).
            Assert.True(peak > 512 * 1024, $"without a budget the logs grow: {peak} bytes charged");
        }

        // Every call is in every counter, through a deactivation (the next activation starts from the snapshot).
        foreach (var grain in grains)
        {
            await grain.Deactivate();
        }
        await Poll.UntilAsync(() => budgets.All(b => b.HeldBytes == 0), "deactivated grains hold no budget", TimeSpan.FromSeconds(30));
        foreach (var grain in grains)
        {
            Assert.Equal(CallsPerGrain + 1, await grain.Add(1));
        }
    }

    [Fact]
    public async Task Grains_no_longer_called_snapshot_once_working_grains_push_their_silo_over_budget()
    {
        // 3 grains of 40 calls (≈ 44 KB charged each) fit a 192 KiB budget on any silo; then 60 grains of 20 calls
        // (too few to snapshot themselves) push every silo over it, and only the budget's sweep reaches the 3.
        var kit = await Testing.ReplicatedTestCluster.StartAsync(o =>
        {
            o.Mode = ReplicationMode.Persisted;
            o.ConfigureReplication = r => r.LogMemoryBudget = 192 * 1024;
        });
        await using var _ = kit;
        var cluster = kit.Cluster;
        var idle = Enumerable.Range(0, 3).Select(i => cluster.Client.GetGrain<ICounterGrain>($"no-longer-called-{i}")).ToList();
        foreach (var grain in idle)
        {
            for (int i = 0; i < 40; i++) await grain.Add(1);
        }
        // Where they live, asked now: any call later (a read too) would run the check at apply and snapshot them.
        var homes = await HomesAsync(idle);
        List<long> Slots() => SnapshotSlots(cluster, idle, homes);
        Assert.All(Slots(), slot => Assert.Equal(0, slot));

        var working = Enumerable.Range(0, 60).Select(i => cluster.Client.GetGrain<ICounterGrain>($"working-{i}")).ToList();
        await Task.WhenAll(working.Select(async grain =>
        {
            for (int i = 0; i < 20; i++) await grain.Add(1);
        }));
        await Poll.UntilAsync(() => Slots().All(slot => slot > 0), "every grain no longer called snapshotted for the budget", TimeSpan.FromSeconds(30));
        foreach (var grain in idle) Assert.Equal(41, await grain.Add(1));
    }

    /// <summary>Each grain's silo (a read: it runs the budget's check on the grain, so ask before the silo is over budget).</summary>
    private static async Task<List<SiloAddress>> HomesAsync(IEnumerable<ICounterGrain> grains)
    {
        var homes = new List<SiloAddress>();
        foreach (var grain in grains) homes.Add(await grain.GetSilo());
        return homes;
    }

    /// <summary>The slot of each grain's snapshot on its silo (0: none), read from the silos without calling the grains.</summary>
    private static List<long> SnapshotSlots(global::Orleans.TestingHost.InProcessTestCluster cluster, IReadOnlyList<ICounterGrain> grains, IReadOnlyList<SiloAddress> homes) =>
        [.. grains.Select((grain, i) => cluster.Service<ReplicationRuntime>(homes[i]).Log!.LoadSnapshot(ReplicationRuntime.GroupIdOf(grain.GetGrainId(), 3))?.Slot ?? 0)];

    private static void Charge(LogMemoryBudget budget, ref long group, long bytes)
    {
        budget.Charge(group, bytes);
        group += bytes;
    }
}

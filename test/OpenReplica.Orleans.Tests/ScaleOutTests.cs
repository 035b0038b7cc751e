using System.Collections.Concurrent;
using Microsoft.Extensions.Options;
using OpenReplica.Orleans.Replication;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// Replicated grains use every silo and follow the roster: replicas and activations spread evenly, a joining silo
/// takes about its share of groups while calls keep succeeding, and a rolling replacement of every silo loses
/// nothing. Real silos (TestingHost, in process), real consensus.
/// </summary>
public sealed class ScaleOutTests
{
    private const int Replicas = 3;

    /// <summary>
    /// The cluster-wide checks run in every test run at a size that fits its budget (hundreds of grains, three to six
    /// silos); with OPENREPLICA_LONG_TESTS=1 the same code runs at the issue's size (thousands of grains, six silos
    /// joined by a seventh and replaced one by one), which takes minutes each on two cores (README, "Long runs").
    /// </summary>
    public static bool LongTestsEnabled => Environment.GetEnvironmentVariable("OPENREPLICA_LONG_TESTS") == "1";

    private static readonly bool Long = LongTestsEnabled;

    [Fact]
    public async Task Replicas_and_activations_spread_evenly_over_six_silos()
    {
        const int silos = 6;
        await using var cluster = await ScaleOutCluster.StartAsync(silos, ReplicationMode.Volatile);
        var keys = Keys("spread", Long ? 3000 : 900);
        await ForEachAsync(keys, key => cluster.Client.GetGrain<IAccountGrain>(key).Deposit(1));
        await cluster.WaitBalancedAsync();

        var holders = await cluster.HoldersOnceCreatedAsync([.. keys.Select(GroupOf)], Replicas);
        Assert.All(holders.Values, h => Assert.Equal(Replicas, h.Count));
        var replicasPerSilo = cluster.Silos.Select(s => holders.Values.Count(h => h.Contains(cluster.ReplicaIdOf(s)))).ToList();
        var activations = new ConcurrentDictionary<SiloAddress, int>();
        await ForEachAsync(keys, async key => activations.AddOrUpdate(await cluster.Client.GetGrain<IAccountGrain>(key).GetSilo(), 1, (_, n) => n + 1));
        var activationsPerSilo = cluster.Silos.Select(s => activations.GetValueOrDefault(s.SiloAddress)).ToList();

        AssertWithin(replicasPerSilo, keys.Count, Replicas / (double)silos, "replicas per silo");
        AssertWithin(activationsPerSilo, keys.Count, 1.0 / silos, "activations per silo");
    }

    /// <summary>
    /// Grains written while the roster still has its first R silos (a cluster written in its first seconds, before
    /// the others joined) spread their activations, not only their replicas, once their groups move; and every silo
    /// lets go of the replicas its groups moved off. Session 23, 6 silos, 10,000 grains written at once: replicas spread
    /// evenly, but 90 % of the activations stayed on the first three silos (an activation stayed where it was while its
    /// silo stayed in the group, and one that had to leave went to another of the first three), and 274 to 421
    /// replicas per run were held for ever on a silo whose group had moved on before it asked whether it could let go.
    /// </summary>
    [Fact]
    public async Task Grains_written_before_silos_joined_spread_their_activations_once_their_groups_move()
    {
        const int first = Replicas, silos = 2 * Replicas;
        await using var cluster = await ScaleOutCluster.StartAsync(first, ReplicationMode.Volatile);
        var keys = Keys("early", Long ? 3000 : 600);
        await ForEachAsync(keys, key => cluster.Client.GetGrain<IAccountGrain>(key).Deposit(1));

        for (int i = first; i < silos; i++) await cluster.Cluster.StartAdditionalSiloAsync();
        await cluster.WaitRosterIsEveryLiveSiloAsync();
        await cluster.WaitBalancedAsync(TimeSpan.FromSeconds(180));

        var activations = new ConcurrentDictionary<SiloAddress, int>();
        await ForEachAsync(keys, async key => activations.AddOrUpdate(await cluster.Client.GetGrain<IAccountGrain>(key).GetSilo(), 1, (_, n) => n + 1));
        var activationsPerSilo = cluster.Silos.Select(s => activations.GetValueOrDefault(s.SiloAddress)).ToList();
        AssertWithin(activationsPerSilo, keys.Count, 1.0 / silos, "activations per silo");
        var holders = await cluster.HoldersOnceCreatedAsync([.. keys.Select(GroupOf)], Replicas);
        Assert.All(holders.Values, h => Assert.Equal(Replicas, h.Count));
        foreach (var key in keys) Assert.Equal(1m, await cluster.Client.GetGrain<IAccountGrain>(key).GetBalance());
    }

    [Fact]
    public async Task A_new_silo_takes_about_its_share_and_no_call_fails()
    {
        int silos = Long ? 6 : 4;
        await using var cluster = await ScaleOutCluster.StartAsync(silos, ReplicationMode.Volatile);
        var keys = Keys("join", Long ? 1200 : 300);
        await ForEachAsync(keys, key => cluster.Client.GetGrain<IAccountGrain>(key).Deposit(1));
        await cluster.WaitBalancedAsync();
        var before = await cluster.HoldersOnceCreatedAsync([.. keys.Select(GroupOf)], Replicas);

        await using var load = new Writers(cluster.Client, keys);
        var newcomerSilo = await cluster.Cluster.StartAdditionalSiloAsync();
        await cluster.WaitRosterIsEveryLiveSiloAsync();
        await cluster.WaitBalancedAsync();
        var stats = await load.StopAsync();

        var after = await cluster.HoldersOnceCreatedAsync([.. keys.Select(GroupOf)], Replicas);
        Assert.All(after.Values, h => Assert.Equal(Replicas, h.Count));
        int moved = keys.Count(k => !before[GroupOf(k)].SetEquals(after[GroupOf(k)]));
        double ideal = keys.Count * Replicas / (double)(silos + 1);
        long newcomer = cluster.ReplicaIdOf(newcomerSilo);
        int onNewcomer = after.Values.Count(h => h.Contains(newcomer));
        Assert.True(moved <= 1.3 * ideal, $"{moved} groups moved; the ideal is {ideal:0} (R/N of {keys.Count})");
        Assert.True(onNewcomer >= 0.85 * ideal, $"the new silo holds {onNewcomer} replicas; its share is {ideal:0}");
        Assert.True(stats.Errors == 0, $"{stats.Errors} calls failed while silo {silos + 1} joined:{Environment.NewLine}{stats.FirstErrors}");
        Assert.True(stats.Acknowledged > 0);
        await load.AssertEveryAcknowledgedWriteAsync(keys, initial: 1);
    }

    [Theory]
    [InlineData(ReplicationMode.Volatile)]
    [InlineData(ReplicationMode.Persisted)]
    public async Task A_rolling_replacement_of_every_silo_loses_nothing(ReplicationMode mode)
    {
        await using var cluster = await ScaleOutCluster.StartAsync(Long ? 6 : 3, mode);
        var keys = Keys($"rolling-{mode}", Long ? 150 : 60);
        await ForEachAsync(keys, key => cluster.Client.GetGrain<IAccountGrain>(key).Deposit(1));
        await cluster.WaitBalancedAsync();

        // Each original silo is replaced by a new one (a new, empty data directory in Persisted mode): the new silo
        // joins, its share moves to it, then the old one stops gracefully and hands its groups over.
        await using var load = new Writers(cluster.Client, keys);
        foreach (var old in cluster.Silos.ToList())
        {
            await cluster.Cluster.StartAdditionalSiloAsync();
            await cluster.WaitRosterIsEveryLiveSiloAsync();
            await cluster.WaitBalancedAsync();
            await cluster.StopGracefullyAsync(old);
            await cluster.WaitRosterIsEveryLiveSiloAsync();
        }
        await cluster.WaitBalancedAsync();
        var stats = await load.StopAsync();

        Assert.True(stats.Errors == 0, $"{stats.Errors} calls failed during the rolling replacement:{Environment.NewLine}{stats.FirstErrors}");
        Assert.True(stats.Acknowledged > 0);
        await load.AssertEveryAcknowledgedWriteAsync(keys, initial: 1);
    }

    /// <summary>
    /// A rolling replacement that waits for nothing between silos (a deployment tool replacing pods on a timer), with
    /// hand-overs cut short (a short <see cref="ReplicatedGrainsOptions.DecommissionTimeout"/> stands for a large
    /// silo's longer one): groups are left one copy short when the next silo goes. Before session 22 the next
    /// hand-over took those groups in no particular order and ran out of time again, moves added a replacement before
    /// removing the dead member (so the group needed the new member's vote), and a member added under an older roster
    /// refused the group's messages: groups lost their majority, calls failed after 60 s and grains stayed unreadable
    /// (6 silos in one process, 3,000 grains, 10 s apart, the library's defaults).
    /// </summary>
    [Fact]
    public async Task A_rolling_replacement_that_waits_for_nothing_keeps_every_group_available()
    {
        await using var cluster = await ScaleOutCluster.StartAsync(4, ReplicationMode.Volatile,
            configure: o => o.DecommissionTimeout = TimeSpan.FromSeconds(1.5));
        var keys = Keys("unwaited", Long ? 600 : 200);
        await ForEachAsync(keys, key => cluster.Client.GetGrain<IAccountGrain>(key).Deposit(1));

        await using var load = new Writers(cluster.Client, keys);
        var reports = new List<DecommissionReport>();
        foreach (var old in cluster.Silos.ToList())
        {
            await cluster.Cluster.StartAdditionalSiloAsync();
            await Task.Delay(TimeSpan.FromSeconds(1), TestContext.Current.CancellationToken);
            var decommission = cluster.Service<Decommission>(old);
            await cluster.StopGracefullyAsync(old);
            reports.Add(decommission.LastReport!);
        }
        await cluster.WaitRosterIsEveryLiveSiloAsync();
        await cluster.WaitBalancedAsync();
        var stats = await load.StopAsync();

        string handOvers = string.Join("; ", reports.Select(r => $"{r.Outcome}: {r.GroupsLeft} of {r.GroupsHeld} left after {r.ElapsedMs:0} ms"));
        Assert.True(stats.Errors == 0, $"{stats.Errors} calls failed (hand-overs: {handOvers}):{Environment.NewLine}{stats.FirstErrors}");
        Assert.True(stats.Acknowledged > 0);
        await load.AssertEveryAcknowledgedWriteAsync(keys, initial: 1);
    }

    /// <summary>
    /// A silo that starts once every genesis member is gone knows only the genesis roster until it learns a newer one,
    /// and the meta group tells roster members only. It asked the genesis members alone, so it placed every grain on
    /// dead silos ("none of its 3 replica silos [] is alive") until the meta group took it in after the settling
    /// period: in a user-style rolling replacement the client's calls through the new gateway failed for 10 s and were
    /// retried (session 25). It now asks every live silo when none of the roster it knows answers.
    /// </summary>
    [Fact]
    public async Task A_silo_that_starts_after_every_genesis_member_left_learns_the_roster_before_it_is_taken_in()
    {
        await using var cluster = await ScaleOutCluster.StartAsync(3, ReplicationMode.Volatile);
        var keys = Keys("late-gateway", 30);
        await ForEachAsync(keys, key => cluster.Client.GetGrain<IAccountGrain>(key).Deposit(1));
        foreach (var genesis in cluster.Silos.ToList())
        {
            await cluster.Cluster.StartAdditionalSiloAsync();
            await cluster.WaitRosterIsEveryLiveSiloAsync();
            await cluster.StopGracefullyAsync(genesis);
        }
        await cluster.WaitRosterIsEveryLiveSiloAsync();
        var members = cluster.Silos.ToList();
        var known = cluster.Service<ReplicaRoster>(members[0]);

        // The meta group would take the next silo in only after ten minutes: what it knows, it learned by asking.
        foreach (var member in members) cluster.Service<IOptions<ReplicatedGrainsOptions>>(member).Value.RosterSettlingPeriod = TimeSpan.FromMinutes(10);
        var late = await cluster.Cluster.StartAdditionalSiloAsync();
        var roster = cluster.Service<ReplicaRoster>(late);
        await Poll.UntilAsync(() => Task.FromResult(roster.Version == known.Version), "the new silo learns the roster", TimeSpan.FromSeconds(10),
            () => Task.FromResult($"the new silo knows roster version {roster.Version} ({roster.Current}), the members {known.Version} ({known.Current})"));
        Assert.Equal(known.Current, roster.Current);
        Assert.DoesNotContain(roster.LocalReplicaId, roster.Current!.Members);

        // Placement there finds live replica silos for every grain.
        var locator = cluster.Service<IReplicaSetLocator>(late);
        var live = members.Select(m => m.SiloAddress).ToHashSet();
        foreach (var key in keys)
        {
            var silos = await locator.GetReplicaSilosAsync(GrainId.Create("account", key), 3);
            Assert.Equal(3, silos.Count);
            Assert.All(silos, silo => Assert.Contains(silo, live));
        }
    }

    [Fact]
    public async Task Each_groups_replicas_sit_in_distinct_fault_domains()
    {
        await using var cluster = await ScaleOutCluster.StartAsync(6, ReplicationMode.Volatile, domains: 3);
        var keys = Keys("domains", 600);
        await ForEachAsync(keys, key => cluster.Client.GetGrain<IAccountGrain>(key).Deposit(1));
        await cluster.WaitBalancedAsync();

        var domainOf = cluster.Silos.ToDictionary(cluster.ReplicaIdOf, s => cluster.Service<ReplicaRoster>(s).LocalDomain);
        var holders = await cluster.HoldersOnceCreatedAsync([.. keys.Select(GroupOf)], Replicas);
        Assert.All(holders, pair =>
        {
            Assert.Equal(Replicas, pair.Value.Count);
            Assert.True(pair.Value.Select(id => domainOf[id]).Distinct().Count() == Replicas,
                $"group {pair.Key} has replicas in domains {string.Join(",", pair.Value.Select(id => domainOf[id]))}");
        });
        // Without the rule, 3 of 6 silos in 3 domains would share a domain in 60 % of groups.
        Assert.Equal(3, domainOf.Values.Distinct().Count());
    }

    private static List<string> Keys(string prefix, int count) => [.. Enumerable.Range(0, count).Select(i => $"{prefix}-{i}")];

    private static string GroupOf(string key) => ReplicationRuntime.GroupIdOf(GrainIdOf(key), Replicas);

    private static GrainId GrainIdOf(string key) => GrainId.Create(AccountGrainType, key);

    private const string AccountGrainType = "account";

    private static async Task ForEachAsync(IEnumerable<string> keys, Func<string, Task> action) =>
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 32 }, async (key, _) => await action(key));

    /// <summary>
    /// Each count is within the issue's ±15 % of even (the long run), or, for the smaller default run, within four standard
    /// deviations of the binomial count expected from placing <paramref name="items"/> items with probability
    /// <paramref name="share"/> each (sampling noise that is not a placement fault).
    /// </summary>
    private static void AssertWithin(IReadOnlyList<int> counts, int items, double share, string what)
    {
        double even = items * share;
        double tolerance = Long ? 0.15 * even : Math.Max(0.15 * even, 4 * Math.Sqrt(items * share * (1 - share)));
        foreach (int count in counts)
        {
            Assert.True(Math.Abs(count - even) <= tolerance,
                $"{what}: [{string.Join(", ", counts)}], each should be within {tolerance:0} of {even:0}");
        }
    }
}

using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using Orleans.Hosting;
using Microsoft.Extensions.DependencyInjection;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// Persisted mode across disk-level events: every silo losing power at once, and a silo coming back with an empty
/// data directory (a new replica that must not vote under its old identity).
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class StorageRecoveryTests
{
    [Fact]
    public async Task Every_acknowledged_call_survives_all_silos_dying_at_once()
    {
        await using var cluster = await FaultCluster.StartAsync(3);
        var grains = Enumerable.Range(0, 4).Select(i => cluster.Client.GetGrain<IAccountGrain>($"power-{i}")).ToList();
        var acknowledged = new decimal[grains.Count];
        await Task.WhenAll(Enumerable.Range(0, 8).Select(async caller =>
        {
            for (int n = 0; n < 15; n++)
            {
                int g = (caller + n) % grains.Count;
                await grains[g].Deposit(1);
                lock (acknowledged) acknowledged[g] += 1;
            }
        }));

        // Power loss everywhere: no silo shuts down gracefully, nothing is flushed beyond what was fsynced.
        var dead = cluster.Silos.ToList();
        foreach (var silo in dead) await cluster.Cluster.KillSiloAsync(silo, TestContext.Current.CancellationToken);
        foreach (var silo in dead.OrderBy(s => s.InstanceNumber)) await cluster.RestartAsync(silo);

        for (int g = 0; g < grains.Count; g++)
        {
            var grain = grains[g];
            Assert.Equal(acknowledged[g], await Eventually.CallAsync(() => grain.GetBalance(), $"balance of power-{g}", TimeSpan.FromSeconds(60)));
            Assert.Equal(acknowledged[g] + 1, await Eventually.CallAsync(() => grain.Deposit(1), $"deposit to power-{g}"));
        }
    }

    [Fact]
    public async Task A_silo_back_with_an_empty_directory_is_a_new_replica_that_catches_up()
    {
        await using var cluster = await FaultCluster.StartAsync(3, configureSilo: silo =>
            silo.Services.Configure<ReplicatedGrainsOptions>(o => o.ReplacementGracePeriod = TimeSpan.FromSeconds(1)));
        var (grain, host) = await cluster.GrainOffFirstSiloAsync("wiped", key => cluster.Client.GetGrain<IAccountGrain>(key), g => g.GetSilo());
        for (int i = 0; i < 20; i++) await grain.Deposit(1);

        var victim = cluster.HandleOf(host);
        long oldId = cluster.Service<ReplicaRoster>(victim).LocalReplicaId;
        await cluster.KillAsync(victim);
        Directory.Delete(Path.Combine(cluster.DataRoot, victim.Name), recursive: true);
        var reborn = await cluster.RestartAsync(victim);
        long newId = cluster.Service<ReplicaRoster>(reborn).LocalReplicaId;
        Assert.NotEqual(oldId, newId); // a new identity: it never votes with promises it forgot

        var anchor = cluster.Service<ReplicaRoster>(cluster.Silos[0]);
        await Poll.UntilAsync(() => anchor.Current!.Contains(newId) && !anchor.Current.Contains(oldId), "the meta group replaced the wiped replica", TimeSpan.FromSeconds(60));
        Assert.Equal(21m, await Eventually.CallAsync(() => grain.Deposit(1), "deposit after the replacement"));

        string groupId = FaultCluster.GroupOf(grain.GetGrainId());
        await Poll.UntilAsync(async () =>
        {
            var group = cluster.Service<ReplicationRuntime>(reborn).LoadHeld(groupId); // from disk if it left memory meanwhile
            if (group is null) return false;
            var (config, commit) = await group.AskAsync(core => ((core.Config, core.CommitIndex), new Ready())); // the configuration in force, not just chosen
            return config.Contains(newId) && !config.Contains(oldId) && commit >= 21;
        }, "the new replica learned the grain's log and the configuration without the wiped replica is in force", TimeSpan.FromSeconds(60),
            async () => $"{await cluster.DescribeAsync(groupId)}; rebalancers: {cluster.DescribeRebalancers()}");

        // With the new replica caught up and its configuration in force (until then the old one governs the slots in
        // the transition window, and losing a second of its replicas would rightly stop the group), losing another
        // original replica still leaves a majority with all the data.
        var other = cluster.Silos.First(s => s != reborn && s.SiloAddress != cluster.Cluster.Silos[0].SiloAddress);
        await cluster.KillAsync(other);
        Assert.Equal(22m, await Eventually.CallAsync(() => grain.Deposit(1), "deposit after losing another replica"));
    }
}

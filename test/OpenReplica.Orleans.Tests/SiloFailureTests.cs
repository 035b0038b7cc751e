using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>Kills silos, so it has a cluster of its own.</summary>
public sealed class SiloFailureTests
{
    [Fact]
    public async Task After_its_silo_is_killed_the_grain_is_placed_on_another_replica_silo()
    {
        await using var cluster = TestCluster3.Build();
        await cluster.DeployAsync(TestContext.Current.CancellationToken);
        var primary = cluster.Silos[0].SiloAddress;

        // A grain whose activation is not on the primary silo (the test cluster's anchor).
        IAccountGrain? grain = null;
        SiloAddress? host = null;
        for (var i = 0; host is null || host.Equals(primary); i++)
        {
            Assert.True(i < 64, "no grain key placed off the primary silo");
            grain = cluster.Client.GetGrain<IAccountGrain>($"failover-{i}");
            host = await grain.GetSilo();
        }

        await grain!.Deposit(5);
        var grainId = grain.GetGrainId();
        var locator = cluster.Service<IReplicaSetLocator>(primary);
        Assert.Contains(host, await locator.GetReplicaSilosAsync(grainId, 3));

        await cluster.KillSiloAsync(cluster.Silos.Single(s => s.SiloAddress.Equals(host)), TestContext.Current.CancellationToken);

        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        await Poll.UntilAsync(
            async () => !(await management.GetHosts(onlyActive: true)).ContainsKey(host),
            $"{host} declared dead",
            TimeSpan.FromSeconds(10));

        SiloAddress? newHost = null;
        await Poll.UntilAsync(
            async () =>
            {
                try
                {
                    newHost = await grain.GetSilo();
                    return true;
                }
                catch (Exception exception) when (exception is SiloUnavailableException or TimeoutException or OrleansMessageRejectionException)
                {
                    return false;
                }
            },
            "grain answers after failover");

        Assert.NotEqual(host, newHost);
        var replicas = await locator.GetReplicaSilosAsync(grainId, 3);
        Assert.DoesNotContain(host, replicas);
        Assert.Contains(newHost, replicas);

        // LocalCallReplicator keeps its log in the dead silo's memory, so the state is gone; the grain is live.
        Assert.Equal(2m, await grain.Deposit(2));
    }
}

using OpenReplica.Orleans.Testing;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A cluster started with fewer silos than <c>ReplicationFactor</c> cannot form its replica roster. Before session 39 a
/// call to a replicated grain then hung in placement without a word in any log, and failed after 30 s with Orleans'
/// placement timeout, which reached the caller as a serialization error (no codec for Polly's
/// <c>TimeoutRejectedException</c>), not retried, even if the missing silos started meanwhile; the test kit's
/// <c>StartSiloAsync</c> waited for good for the new silo to join a roster that did not exist.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class RosterFormationTests
{
    [Fact]
    public async Task A_call_made_before_enough_silos_for_the_roster_waits_and_is_served_once_they_start()
    {
        var log = new RecentLog();
        await using var cluster = await ReplicatedTestCluster.StartAsync(o =>
        {
            o.Silos = 3;
            o.ConfigureReplication = r => r.ReplicationFactor = 5;
            o.ConfigureSilo = log.AddTo;
        });
        var call = cluster.Client.GetGrain<IAccountGrain>("formation").Deposit(5);

        await Poll.UntilAsync(
            () => log.Contains("the replica roster forms once ReplicationFactor (5) silos are active, and 3 are"),
            "a silo logs why replicated grains cannot be placed", TimeSpan.FromSeconds(30));
        Assert.False(call.IsCompleted, "the call waits for the roster");

        await cluster.StartSiloAsync();
        await cluster.StartSiloAsync();
        Assert.Equal(5m, await call.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
        Assert.Equal(5, (await cluster.Client.GetReplicatedClusterStatusAsync()).Roster.Length);
    }
}

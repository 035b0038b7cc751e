namespace OpenReplica.Orleans.Tests;

/// <summary>Replicated grains on real consensus: calls are chosen into the log, survive the loss of the leader's silo.</summary>
public sealed class ConsensusBasicsTests
{
    [Fact]
    public async Task Calls_are_applied_in_order_and_reads_see_them()
    {
        var (cluster, root) = await ConsensusCluster.StartAsync(3);
        await using var _ = cluster;
        var grain = cluster.Client.GetGrain<IAccountGrain>("basics");
        for (int i = 1; i <= 20; i++) Assert.Equal(i, await grain.Deposit(1));
        Assert.Equal(20m, await grain.GetBalance());

        var exception = await Assert.ThrowsAsync<InsufficientFundsException>(() => grain.Withdraw(100));
        Assert.Contains("Cannot withdraw 100", exception.Message);
        Assert.Equal(20m, await grain.GetBalance());

        // Every silo of the replica set holds a replica of the grain's group, and the leader's WAL holds the log. A
        // majority (the leader and one follower) chooses each call, so the third silo may still be starting its replica
        // from its first message (it asks the leader for the group's configuration first): under the full suite's load
        // that took longer than the calls above.
        foreach (var silo in cluster.Silos)
        {
            var runtime = cluster.Service<OpenReplica.Orleans.Replication.ReplicationRuntime>(silo.SiloAddress);
            await Poll.UntilAsync(() => Task.FromResult(runtime.GroupCount >= 1), $"silo {silo.SiloAddress} holds a replica",
                TimeSpan.FromSeconds(10), describe: null);
        }
        Assert.NotEmpty(Directory.EnumerateFiles(root, "wal-*.log", SearchOption.AllDirectories));
    }

    [Fact]
    public async Task State_survives_killing_the_leader_silo()
    {
        var (cluster, _) = await ConsensusCluster.StartAsync(3);
        await using var _ = cluster;
        var grain = await cluster.AccountAwayFromFirstSiloAsync("failover");
        for (int i = 0; i < 10; i++) await grain.Deposit(5);
        var leader = await grain.GetSilo();
        await cluster.KillAndWaitDeadAsync(cluster.HandleOf(leader));

        Assert.Equal(55m, await grain.Deposit(5));
        Assert.NotEqual(leader, await grain.GetSilo());
        Assert.Equal(55m, await grain.GetBalance());
    }
}

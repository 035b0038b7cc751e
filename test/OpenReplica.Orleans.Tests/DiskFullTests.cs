using Microsoft.Extensions.DependencyInjection;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A silo's disk fills up under load: its log fails with an error that says the disk is full (the failed batch cut
/// off again, so no torn record stays), its replicas stop voting, the grain keeps working on the other replicas (a
/// majority), and nothing acknowledged is lost.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class DiskFullTests
{
    [Fact]
    public async Task A_full_disk_stops_its_replicas_with_a_clear_error_while_the_majority_keeps_every_acknowledged_call()
    {
        var disk = new FillableFileSystem();
        await using var cluster = await FaultCluster.StartAsync(3,
            configureSilo: silo => silo.Services.Configure<ReplicatedGrainsOptions>(o => o.WalFileSystem = disk));
        var grain = await cluster.Cluster.AccountAwayFromFirstSiloAsync("disk-full");
        decimal acknowledged = await grain.Deposit(1);
        var leader = cluster.HandleOf(await grain.GetSilo());
        var follower = cluster.Silos.First(s => !s.Equals(leader));
        var runtime = cluster.Service<ReplicationRuntime>(follower);

        disk.FullUnder = Path.Combine(cluster.DataRoot, follower.Name);
        for (int i = 0; i < 20; i++) acknowledged = await Eventually.CallAsync(() => grain.Deposit(1), "deposit while a follower's disk is full");

        await Poll.UntilAsync(() => Task.FromResult(runtime.LogFailure is { DiskFull: true }), "the follower's log failed as a full disk");
        var failure = runtime.LogFailure!;
        Assert.Contains("is full", failure.Message);
        Assert.True(failure.TailDiscarded, failure.Message);
        Assert.Equal(21m, acknowledged);
        Assert.Equal(21m, await grain.GetBalance());
    }
}

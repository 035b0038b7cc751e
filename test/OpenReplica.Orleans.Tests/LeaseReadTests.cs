using Microsoft.Extensions.DependencyInjection;
using Orleans.Hosting;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>Leader leases (<see cref="ReplicatedGrainsOptions.LeaseDuration"/>): local reads, and what keeps them linearizable.</summary>
[Collection(FaultCollection.Name)]
public sealed class LeaseReadTests
{
    private static Action<ISiloBuilder> Lease(TimeSpan duration) =>
        silo => silo.Services.Configure<ReplicatedGrainsOptions>(o => o.LeaseDuration = duration);

    private static long MessagesSent(FaultCluster cluster) => cluster.Silos.Sum(s => cluster.Service<ReplicaTransport>(s).GrainMessagesEnqueued);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Under_a_lease_reads_send_no_consensus_messages_and_see_every_acknowledged_write(bool leases)
    {
        await using var cluster = await FaultCluster.StartAsync(
            silos: 3, configureSilo: leases ? Lease(TimeSpan.FromSeconds(4)) : null);
        var register = cluster.Client.GetGrain<ICasRegisterGrain>(GrainId.Create(CasRegisterGrain.TypeName, "leased"));
        await Eventually.CallAsync(() => register.Write(1), "first write");
        Assert.Equal(1, await register.Read()); // the first read confirms leadership (and takes the lease)

        await register.Write(7);
        // Let the write's commit notifications settle, so that only reads are counted.
        long settled = -1;
        await Poll.UntilAsync(async () =>
        {
            long now = MessagesSent(cluster);
            bool quiet = now == settled;
            settled = now;
            await Task.Delay(200);
            return quiet;
        }, "consensus traffic settled", TimeSpan.FromSeconds(10));

        long before = MessagesSent(cluster);
        for (int i = 0; i < 100; i++) Assert.Equal(7, await register.Read());
        long sent = MessagesSent(cluster) - before;
        if (leases) Assert.True(sent <= 8, $"{sent} consensus messages for 100 reads under a lease (at most a renewal round expected)");
        else Assert.True(sent >= 200, $"{sent} consensus messages for 100 reads without a lease: each needs a quorum round");
    }

    /// <summary>
    /// The leader's silo dies while its activation holds a lease: the new activation must wait until the replicas'
    /// guards end before it leads, and the history (reads served locally included) stays linearizable; the silo
    /// restarts with its directory and guards against every campaign until leases it may have granted have ended.
    /// </summary>
    [Fact]
    public async Task Cas_register_with_leases_stays_linearizable_through_a_leader_kill_and_restart()
    {
        await using var cluster = await FaultCluster.StartAsync(silos: 3, callTimeout: TimeSpan.FromSeconds(3), configureSilo: Lease(TimeSpan.FromSeconds(1)));
        var (register, leader) = await cluster.GrainOffFirstSiloAsync(
            "lease-reg", k => cluster.Client.GetGrain<ICasRegisterGrain>(GrainId.Create(CasRegisterGrain.TypeName, k)), g => g.GetSilo());

        var history = new RegisterHistory();
        using var stop = new CancellationTokenSource();
        var callers = history.Start(8, [register], stop.Token);
        await history.ProgressAsync("before faults");
        var leaderHandle = cluster.HandleOf(leader);
        await cluster.KillAsync(leaderHandle);
        await history.ProgressAsync("after killing the leader's silo");
        await cluster.RestartAsync(leaderHandle);
        await history.ProgressAsync("after restarting it");

        stop.Cancel();
        await Task.WhenAll(callers);

        await history.AssertOutcomeAsync(cluster, register);
    }
}

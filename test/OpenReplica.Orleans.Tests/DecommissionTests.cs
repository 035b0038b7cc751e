using OpenReplica.Orleans.Replication;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A graceful stop hands the silo's work over before it leaves: every group it held (busy, idle in memory, or
/// evicted to disk) is reconfigured onto other silos and none is led from it, so the stop is not a failure for any
/// grain, while writers keep going and nothing acknowledged is lost. Real silos (TestingHost), real consensus.
/// </summary>
public sealed class DecommissionTests
{
    private const int Replicas = 3;

    [Fact]
    public async Task A_gracefully_stopped_silo_hands_every_group_over_before_it_stops()
    {
        // Short eviction: the groups nobody writes to leave memory before the stop and must be moved from disk.
        await using var cluster = await ScaleOutCluster.StartAsync(4, ReplicationMode.Persisted,
            configure: o => o.IdleGroupEvictionAfter = TimeSpan.FromSeconds(2));
        var keys = Enumerable.Range(0, 120).Select(i => $"leave-{i}").ToList();
        await Parallel.ForEachAsync(keys, new ParallelOptions { MaxDegreeOfParallelism = 16 },
            async (key, _) => await cluster.Client.GetGrain<IAccountGrain>(key).Deposit(1));
        await cluster.WaitBalancedAsync();

        var leaving = cluster.Silos[1];
        long leavingId = cluster.ReplicaIdOf(leaving);
        var runtime = cluster.Service<ReplicationRuntime>(leaving);
        var decommission = cluster.Service<Decommission>(leaving);
        var busy = keys.Take(keys.Count / 2).ToList();
        await using var load = new Writers(cluster.Client, busy);
        await Poll.UntilAsync(() => runtime.GroupsEvicted > 0, "some idle groups on the leaving silo left memory", TimeSpan.FromSeconds(30));
        var wanted = keys.Select(GroupOf).ToHashSet();
        var held = runtime.HeldGroupIds().Where(wanted.Contains).ToList();
        Assert.NotEmpty(held);

        // The client learns from its gateway-list refresh that membership dropped the leaving silo's gateway (it then
        // ends its pending calls: one entering through that gateway after the hand-over may get no answer until the
        // connection closes). This also checks that Orleans' diagnostic event still has the shape the watch reads.
        var droppedGateways = new System.Collections.Concurrent.ConcurrentQueue<System.Net.IPEndPoint>();
        using var listDrops = new GatewayListDrops(() => GatewayListDrops.GatewayManagerOf(cluster.Client.ServiceProvider), dropped =>
        {
            foreach (var gateway in dropped) droppedGateways.Enqueue(gateway);
        });

        await cluster.StopGracefullyAsync(leaving);

        var report = decommission.LastReport;
        Assert.NotNull(report);
        Assert.True(report.Outcome == DecommissionOutcome.HandedOver && report.GroupsLeft == 0 && report.LeftRoster,
            $"the graceful stop did not hand everything over: {report}");
        Assert.True(report.GroupsHeld >= held.Count, $"{report.GroupsHeld} groups counted at the stop; {held.Count} were held just before");

        // What the other silos know agrees: each group it held has a configuration without it, chosen at once, and in
        // force on every holder once that holder has learnt the commits of the window after it (a follower learns them
        // from the leader's next message, so right after the stop one may still be a step behind: bounded wait).
        var stillNamed = new List<string>();
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(15);
        do
        {
            stillNamed.Clear();
            foreach (string groupId in held)
            {
                int holders = 0;
                foreach (var silo in cluster.Silos)
                {
                    if (await cluster.Service<ReplicationRuntime>(silo).StatusOfAsync(groupId) is not { } status) continue;
                    holders++;
                    Assert.True(!status.Latest.Contains(leavingId),
                        $"group {groupId} on {silo.SiloAddress} still has the stopped replica in its newest configuration [{string.Join(",", status.Latest)}]");
                    if (status.InForce.Contains(leavingId)) stillNamed.Add($"{groupId} on {silo.SiloAddress}: in force [{string.Join(",", status.InForce)}]");
                }
                Assert.True(holders == Replicas, $"group {groupId} has {holders} replicas on the live silos, not {Replicas}");
            }
            if (stillNamed.Count > 0) await Task.Delay(100, TestContext.Current.CancellationToken);
        }
        while (stillNamed.Count > 0 && DateTime.UtcNow < deadline);
        Assert.True(stillNamed.Count == 0, $"a configuration without the stopped replica is not in force everywhere 15 s after the stop: {string.Join("; ", stillNamed.Take(3))}");

        await FaultTestSupport.UntilAsync(() => droppedGateways.Contains(leaving.GatewayAddress!.Endpoint),
            () => $"the client saw membership drop the leaving silo's gateway {leaving.GatewayAddress} (dropped so far: [{string.Join(", ", droppedGateways)}]; watch: {listDrops.DisabledReason ?? "on"})",
            TimeSpan.FromSeconds(10));

        var stats = await load.StopAsync();
        TestContext.Current.TestOutputHelper?.WriteLine($"{report}; writers: {stats.Acknowledged} acknowledged, slowest call {stats.SlowestMs} ms");
        Assert.True(stats.Errors == 0, $"{stats.Errors} calls failed while a silo stopped gracefully:{Environment.NewLine}{stats.FirstErrors}");
        Assert.True(stats.Acknowledged > 0);
        await load.AssertEveryAcknowledgedWriteAsync(keys, initial: 1);
    }

    private static string GroupOf(string key) => ReplicationRuntime.GroupIdOf(GrainId.Create("account", key), Replicas);
}

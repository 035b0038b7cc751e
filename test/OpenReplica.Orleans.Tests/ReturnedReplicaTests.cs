using OpenReplica.Orleans.Replication;
using OpenReplica.Orleans.Testing;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A silo killed while writers went on (three silos, 60 grains, 16 writers), then restarted with its data directory
/// once the grains went idle: its replicas must catch up by themselves (<see cref="ReturnNotice"/>). Before session 39
/// some did not: an idle group's leader sends nothing, so a replica that missed the group's last slots stayed behind
/// until the grain's next write, and the cluster status reported it lagging (not healthy) for as long as the grains
/// stayed idle. Without the notice this test failed three runs of three (1-3 groups behind after 20 s); a user's
/// restart test (4 silos, 200 grains, 48 writers) waited 90 s for a healthy status that never came.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ReturnedReplicaTests
{
    [Fact]
    public async Task A_restarted_silo_catches_up_on_idle_groups_without_another_write()
    {
        await using var cluster = await FaultCluster.StartAsync(silos: 3);
        const int grains = 60;
        var deposits = new long[grains];
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 16).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            while (!stop.IsCancellationRequested)
            {
                int k = random.Next(grains);
                await cluster.Client.GetGrain<IAccountGrain>($"returned-{k}").Deposit(1);
                Interlocked.Increment(ref deposits[k]);
            }
        })).ToList();

        // Kill a silo under load (not the first, which anchors the in-process cluster); the writers go on without it.
        await Task.Delay(1500, TestContext.Current.CancellationToken);
        var victim = cluster.Silos[2];
        long victimReplica = cluster.Service<ReplicaRoster>(victim).LocalReplicaId;
        await cluster.KillAsync(victim);
        await Task.Delay(1500, TestContext.Current.CancellationToken);
        stop.Cancel();
        await Task.WhenAll(writers);

        // Back with its data directory; from here on nobody calls the grains.
        var back = await cluster.RestartAsync(victim);
        var returned = cluster.Service<ReplicationRuntime>(back);
        string behind = "";
        await Poll.UntilAsync(async () =>
        {
            var status = await cluster.Client.GetReplicatedClusterStatusAsync();
            var lagging = new List<string>();
            foreach (var leader in status.Leaders.Where(l => l.Group != "roster" && l.Members.Contains(victimReplica)))
            {
                var entries = await returned.ChosenEntriesAsync(leader.Group);
                long held = entries.Count == 0 ? 0 : entries.Max(e => e.Slot);
                if (held < leader.CommitIndex) lagging.Add($"{leader.Group} {held}/{leader.CommitIndex}");
            }
            if (lagging.Count > 0) await Task.Delay(200); // the status asks every silo: not 50 times a second
            behind = $"{lagging.Count} groups behind ({string.Join(", ", lagging.Take(5))}); status healthy {status.Healthy}, {status.Lagging.Length} lagging";
            return lagging.Count == 0 && status.Healthy;
        }, "every group led with the restarted replica caught up, and a healthy status, with no write since the restart", TimeSpan.FromSeconds(20), () => Task.FromResult(behind));

        for (int k = 0; k < grains; k++)
        {
            Assert.Equal(deposits[k], await cluster.Client.GetGrain<IAccountGrain>($"returned-{k}").GetBalance());
        }
    }
}

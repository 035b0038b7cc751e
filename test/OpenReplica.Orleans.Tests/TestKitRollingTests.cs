using OpenReplica.Orleans.Testing;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The test kit's <see cref="ReplicatedTestCluster.StartSiloAsync"/> and <see cref="ReplicatedTestCluster.StopSiloAsync"/>,
/// used the way a user tests a rolling deployment: every silo replaced by a new one (new, empty data directory) under
/// load, and every acknowledged write still there, none applied twice, no caller error.
/// </summary>
public sealed class TestKitRollingTests
{
    [Fact]
    public async Task A_rolling_replacement_through_the_test_kit_keeps_every_acknowledged_write()
    {
        await using var cluster = await ReplicatedTestCluster.StartAsync(o =>
        {
            o.Mode = ReplicationMode.Persisted;
            o.Silos = 3;
            o.ConfigureReplication = r =>
            {
                r.RosterSettlingPeriod = TimeSpan.FromMilliseconds(300);
                r.ReplacementGracePeriod = TimeSpan.FromSeconds(5);
                r.RebalanceInterval = TimeSpan.FromMilliseconds(200);
            };
        });
        var grains = Enumerable.Range(0, 30).Select(i => cluster.Client.GetGrain<ICounterGrain>($"kit-roll-{i}")).ToArray();
        var acknowledged = new long[grains.Length];
        var errors = new List<Exception>();
        using var stop = new CancellationTokenSource();
        var writers = Enumerable.Range(0, 4).Select(w => Task.Run(async () =>
        {
            var random = new Random(w);
            while (!stop.IsCancellationRequested)
            {
                int i = random.Next(grains.Length);
                try
                {
                    await grains[i].Add(1);
                    Interlocked.Increment(ref acknowledged[i]);
                }
                catch (Exception e)
                {
                    lock (errors) errors.Add(e);
                }
            }
        })).ToArray();

        var originals = cluster.Silos.ToList();
        var replacements = new List<string>();
        foreach (var old in originals)
        {
            var added = await cluster.StartSiloAsync();
            replacements.Add(added.SiloAddress.ToString());
            await cluster.StopSiloAsync(old);
        }
        await Task.Delay(500, TestContext.Current.CancellationToken); // writes after the last stop, on the new silos only
        stop.Cancel();
        await Task.WhenAll(writers);

        Assert.Empty(errors);
        Assert.Equal(replacements.Order(), cluster.Silos.Select(s => s.SiloAddress.ToString()).Order());
        var status = await cluster.Client.GetReplicatedClusterStatusAsync();
        Assert.Equal(replacements.Order(), status.Roster.Select(m => m.Silo).Order());
        for (int i = 0; i < grains.Length; i++)
        {
            Assert.Equal(acknowledged[i], (await grains[i].Get()).Value); // nothing lost, nothing applied twice
        }
        Assert.True(acknowledged.Sum() > grains.Length, $"only {acknowledged.Sum()} writes acknowledged during the roll");
    }
}

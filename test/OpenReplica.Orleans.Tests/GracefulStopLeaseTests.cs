using System.Diagnostics;
using OpenReplica.Orleans.Testing;
using OpenReplica.Testing;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// With leader leases, a grain whose silo stops gracefully starts on another replica silo at once: its old activation
/// resigns and releases its lease, so the followers guarding that lease promise the new activation straight away.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class GracefulStopLeaseTests
{
    private static readonly TimeSpan Lease = TimeSpan.FromSeconds(8);

    /// <summary>
    /// The stopping silo's disk is slow (every fsync takes 400 ms), so the resigning activation's last step, which
    /// writes its final snapshot, ends well after the grains' deactivation. Until session 28 the deactivation did not
    /// wait for that step, and the silo's transport stopped 100 ms after it: the lease release was never sent, and
    /// the grain's next activation waited out the whole lease (under load in the rolling-restart test, slow fsyncs
    /// did the same). Now the deactivation ends once the resignation left.
    /// </summary>
    [Fact]
    public async Task A_graceful_stop_on_a_slow_disk_still_releases_the_lease_of_the_grains_it_hosted()
    {
        var disk = new FillableFileSystem();
        await using var cluster = await ReplicatedTestCluster.StartAsync(o =>
        {
            o.Mode = ReplicationMode.Persisted;
            o.Silos = 3;
            o.CallTimeout = TimeSpan.FromSeconds(20); // longer than the lease: a call that waits it out is slow, not failed
            o.ConfigureReplication = r => r.LeaseDuration = Lease;
            o.ConfigureSilo = silo =>
            {
                FileLoggerProvider.AddTo(silo);
                FaultCluster.WalOn(disk)(silo);
            };
        });
        var grain = await cluster.Cluster.AccountAwayFromFirstSiloAsync("slow-stop");
        decimal balance = 0;
        for (int i = 0; i < 5; i++) balance = await grain.Deposit(1);
        var at = await grain.GetSilo();
        var host = cluster.Silos.Single(s => s.SiloAddress.Equals(at));

        disk.FsyncSlowUnder = Path.Combine(cluster.DataRoot!, host.Name);
        disk.FsyncDelay = TimeSpan.FromMilliseconds(400);
        await cluster.StopSiloAsync(host);

        var clock = Stopwatch.StartNew();
        Assert.Equal(balance + 1, await grain.Deposit(1));
        Assert.True(clock.Elapsed < Lease / 2,
            $"the first call after the graceful stop took {clock.Elapsed.TotalMilliseconds:0} ms: the grain's next activation waited for the old lease ({Lease.TotalMilliseconds:0} ms) to run out");
        Assert.NotEqual(host.SiloAddress, await grain.GetSilo());
    }
}

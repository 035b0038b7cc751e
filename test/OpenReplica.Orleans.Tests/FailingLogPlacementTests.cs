using System.Diagnostics;
using System.Diagnostics.Metrics;
using OpenReplica.Orleans.Replication;
using OpenReplica.Testing;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A silo whose write-ahead log keeps failing (every fsync fails, as on a dying device) hosts no activations while it
/// does: a grain it hosted starts on another replica silo and serves from there, although the client's calls still
/// enter through the failing silo's gateway. Before, placement kept choosing the failing silo (the calls' gateway and a
/// replica), each activation failed on its first append, and the grain stayed unavailable as long as the device failed
/// (the chaos tool's FsyncFail cell measured 32 s for a 7 s fault, docs/reliability.md).
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class FailingLogPlacementTests
{
    [Fact]
    public async Task A_grain_on_a_silo_whose_fsyncs_fail_is_served_from_another_replica_silo_while_they_do()
    {
        var disk = new FillableFileSystem();
        await using var cluster = await FaultCluster.StartAsync(3, clientDeadline: TimeSpan.FromSeconds(20),
            configureSilo: FaultCluster.WalOn(disk));
        var grain = await cluster.Cluster.AccountAwayFromFirstSiloAsync("failing-log");
        decimal acknowledged = 0;
        for (int i = 0; i < 5; i++) acknowledged = await grain.Deposit(1);
        var failing = cluster.HandleOf(await grain.GetSilo());
        var runtime = cluster.Service<ReplicationRuntime>(failing);

        // From now on the device fails every fsync, for the rest of the test; the next call's append is the first to
        // fail. The grain must serve from elsewhere within a few seconds, and keep doing so.
        disk.FsyncFailsUnder = Path.Combine(cluster.DataRoot, failing.Name);
        var clock = Stopwatch.StartNew();
        var slowest = TimeSpan.Zero;
        for (int i = 0; i < 21; i++)
        {
            var started = clock.Elapsed;
            acknowledged = await grain.Deposit(1);
            if (clock.Elapsed - started > slowest) slowest = clock.Elapsed - started;
        }
        // The fault was hit (a call's append on the failing silo, or a follower's), and no call waited it out.
        await Poll.UntilAsync(() => Task.FromResult(runtime.LastLogFailure is not null || runtime.LogFailure is not null),
            "the failing silo's log failed", TimeSpan.FromSeconds(10), describe: null);
        Assert.True(slowest < TimeSpan.FromSeconds(10), $"a call took {slowest.TotalSeconds:0.0} s while the silo's device failed");
        Assert.True(clock.Elapsed < TimeSpan.FromSeconds(20), $"21 calls took {clock.Elapsed.TotalSeconds:0.0} s while the silo's device failed");
        await Poll.UntilAsync(async () => !(await grain.GetSilo()).Equals(failing.SiloAddress), "the grain serves from another silo",
            TimeSpan.FromSeconds(10), describe: null);
        Assert.Equal(26m, await grain.Deposit(0));
        Assert.False(runtime.StartsActivations, "the failing silo still counts itself fit to host activations");
        Assert.Equal(1, WalFailingGauge(failing.SiloAddress.ToString()));
        // What an operator sees: the status names the silo and says the cluster is not healthy. A silo that does not
        // answer the status query within its deadline is left out of that snapshot (under the full suite's load the
        // failing silo sometimes is), so the test asks again until the silo is in it.
        ReplicatedClusterStatus status = null!;
        await Poll.UntilAsync(async () =>
            {
                status = await cluster.Client.GetReplicatedClusterStatusAsync();
                return status.Silos.Any(s => s.Silo == failing.SiloAddress.ToString());
            }, "the cluster status has an entry for the failing silo", TimeSpan.FromSeconds(20), describe: null);
        var reported = status.Silos.Single(s => s.Silo == failing.SiloAddress.ToString());
        Assert.False(reported.HostsActivations);
        Assert.True(status.LogFailing);
        Assert.False(status.Healthy);

        disk.FsyncFailsUnder = null; // the device is replaced
        await Poll.UntilAsync(() => Task.FromResult(runtime.StartsActivations), "the silo hosts activations again once its log works",
            TimeSpan.FromSeconds(60), describe: null);
        Assert.Equal(26m, await grain.GetBalance());
        Assert.False((await cluster.Client.GetReplicatedClusterStatusAsync()).LogFailing);
        Assert.Equal(0, WalFailingGauge(failing.SiloAddress.ToString()));
    }

    /// <summary>The silo's <c>openreplica-wal-failing</c> gauge, read through a listener of the library's meter.</summary>
    private static long WalFailingGauge(string silo)
    {
        long? value = null;
        using var listener = new MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == OpenReplicaTelemetry.MeterName && instrument.Name == Diagnostics.ReplicationInstruments.WalFailing)
                    l.EnableMeasurementEvents(instrument);
            },
        };
        listener.SetMeasurementEventCallback<long>((_, measurement, tags, _) =>
        {
            foreach (var tag in tags)
            {
                if (tag.Key == Diagnostics.ReplicationInstruments.SiloTag && (string?)tag.Value == silo) value = measurement;
            }
        });
        listener.Start();
        listener.RecordObservableInstruments();
        return value ?? throw new InvalidOperationException($"no {Diagnostics.ReplicationInstruments.WalFailing} gauge for silo {silo}");
    }
}

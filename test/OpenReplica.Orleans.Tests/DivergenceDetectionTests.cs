using System.Diagnostics.Metrics;
using Microsoft.Extensions.DependencyInjection;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// Divergence detection end to end: a non-deterministic method runs live, a real failover replays it, and the new
/// activation refuses to serve instead of serving a state that differs from what its callers saw; an operator's
/// acceptance (after the fix is deployed) brings it back, and it survives the next replay.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class DivergenceDetectionTests
{
    private const int DigestEvery = 4;

    // Failover waits for membership to declare the silo dead; generous for a loaded machine.
    private static readonly TimeSpan Failover = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_non_deterministic_method_is_caught_at_the_first_failover_and_the_grain_stops_until_an_operator_accepts()
    {
        DriftingGrain.Fixed = false;
        using var divergences = new DivergenceCounter();
        await using var cluster = await FaultCluster.StartAsync(
            silos: 3, configureSilo: s => s.Services.Configure<ReplicatedGrainsOptions>(o => o.DigestEveryCommands = DigestEvery));
        var (grain, home) = await cluster.GrainOffFirstSiloAsync("drift", k => cluster.Client.GetGrain<IDriftingGrain>(k), g => g.GetSilo());
        IDriftingGrain control = null!;
        for (int i = 0; control is null || !(await control.GetSilo()).Equals(home); i++)
        {
            Assert.True(i < 200, "no control grain landed on the drifting grain's silo");
            control = cluster.Client.GetGrain<IDriftingGrain>($"steady-{i}");
        }

        // Commands 1-3, then the non-deterministic one (4th: a digest is due and written into the log), then one more
        // so the checkpoint is surely chosen. The control grain runs only deterministic commands.
        for (int i = 0; i < 3; i++) await grain.Add(1);
        await grain.Tag();
        await grain.Add(1);
        for (int i = 0; i < 2 * DigestEvery; i++) await control.Add(1);
        Assert.Equal(0, divergences.Count); // live, nothing to compare with yet

        // The fix is deployed (the silos now replay Tag() deterministically) and the grain's silo dies: the next
        // activation replays the log and computes another state than the one its callers saw.
        DriftingGrain.Fixed = true;
        await cluster.KillAsync(cluster.HandleOf(home));
        var refused = await Assert.ThrowsAsync<GrainDivergedException>(() => Eventually.CallAsync(() => grain.Add(1), "call after failover", Failover));
        var report = refused.Report!;
        Assert.Equal(grain.GetGrainId().ToString(), report.Grain);
        Assert.Equal(DivergenceSource.Checkpoint, report.Source);
        Assert.NotEqual(report.ExpectedDigest, report.ActualDigest);
        Assert.Contains(report.ExpectedDigest.ToString("x16"), refused.Message);
        Assert.True(divergences.Count >= 1, "the divergence metric was not counted");

        // Refused, reads included, and the refusal is not retried away by the client.
        await Assert.ThrowsAsync<GrainDivergedException>(() => grain.Total());
        await Assert.ThrowsAsync<GrainDivergedException>(() => grain.Add(1));

        // A deterministic grain on the same silo goes through the same failover untouched.
        Assert.Equal(2 * DigestEvery, await Eventually.CallAsync(() => control.Total(), "control after failover", Failover));
        Assert.Equal(2 * DigestEvery + 1, await control.Add(1));

        // The operator looks at the report and accepts the state as the log now replays.
        var divergence = grain.AsReference<IReplicatedGrainDivergence>();
        Assert.Equal(report.Position, (await divergence.GetDivergence())!.Position);
        await divergence.AcceptReplayedState("ORD002 fixed in Tag(); replayed state accepted");
        Assert.Null(await divergence.GetDivergence());
        Assert.Equal(5, await grain.Add(1)); // 4 before the failover, the refused ones never ran
        await Assert.ThrowsAsync<ArgumentException>(() => divergence.AcceptReplayedState(" "));

        // More commands (a new checkpoint, by this activation), then another real replay: the acceptance in the log
        // covers the old mismatch, and the fixed code replays identically.
        for (int i = 0; i < DigestEvery; i++) await grain.Add(1);
        int before = divergences.Count;
        await Eventually.CallAsync(() => grain.Deactivate(), "deactivate");
        await Poll.UntilAsync(
            async () =>
            {
                Assert.Equal(5 + DigestEvery, await Eventually.CallAsync(() => grain.Total(), "read after the second replay", Failover));
                return divergences.Count > before; // the new activation replayed (the deactivation is asynchronous)
            },
            "the grain was reactivated and replayed its log",
            Failover);
        Assert.Null(await divergence.GetDivergence());
        Assert.Equal(before + 1, divergences.Count); // the old mismatch is seen again on replay, then accepted
    }

    /// <summary>Counts <see cref="DivergenceMonitor.DivergencesInstrument"/> measurements from every in-process silo.</summary>
    private sealed class DivergenceCounter : IDisposable
    {
        private readonly MeterListener _listener = new();
        private int _count;

        public DivergenceCounter()
        {
            _listener.InstrumentPublished = (instrument, listener) =>
            {
                if (instrument.Meter.Name == DivergenceMonitor.MeterName && instrument.Name == DivergenceMonitor.DivergencesInstrument)
                {
                    listener.EnableMeasurementEvents(instrument);
                }
            };
            _listener.SetMeasurementEventCallback<long>((_, value, _, _) => Interlocked.Add(ref _count, (int)value));
            _listener.Start();
        }

        public int Count => Volatile.Read(ref _count);

        public void Dispose() => _listener.Dispose();
    }
}

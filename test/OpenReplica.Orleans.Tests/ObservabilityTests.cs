using System.Diagnostics;
using OpenReplica.Orleans.Diagnostics;
using OpenReplica.Orleans.Testing;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Orleans.Hosting;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A known workload on a Persisted 3-silo cluster, read back through OpenTelemetry's in-memory exporter: the
/// counters and histograms of <see cref="ReplicationInstruments"/> show exactly that workload, and each replicated
/// call shows propose → choose → apply spans under Orleans' own call activity. In the fault collection (one at a
/// time), so no other cluster in the process adds to the meter.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ObservabilityTests
{
    private const int Writes = 10;
    private const int Reads = 5;
    private const int SnapshotEvery = 4;

    [Fact]
    public async Task A_known_workload_shows_in_metrics_and_traces()
    {
        var metrics = new List<MetricSnapshot>();
        var spans = new List<Activity>();
        using var meters = Sdk.CreateMeterProviderBuilder().AddMeter(OpenReplicaTelemetry.MeterName).AddInMemoryExporter(metrics).Build();
        using var tracer = Sdk.CreateTracerProviderBuilder()
            .AddSource(OpenReplicaTelemetry.ActivitySourceName, "Microsoft.Orleans.Application")
            .AddInMemoryExporter(spans)
            .Build();
        await using var cluster = await ReplicatedTestCluster.StartAsync(o =>
        {
            o.Mode = ReplicationMode.Persisted;
            o.ConfigureReplication = r => r.SnapshotEveryCommands = SnapshotEvery;
            o.ConfigureSilo = silo => silo.AddActivityPropagation();
            o.ConfigureClient = client => client.AddActivityPropagation();
        });

        var grain = cluster.Client.GetGrain<IAccountGrain>("observed");
        for (int i = 0; i < Writes; i++) await grain.Deposit(1);
        for (int i = 0; i < Reads; i++) Assert.Equal(Writes, await grain.GetBalance());

        // Observed while the cluster runs: the gauges read the live runtime.
        meters.ForceFlush();
        Assert.Equal(Writes, Sum(metrics, ReplicationInstruments.CallsProposed));
        Assert.Equal(Writes, Sum(metrics, ReplicationInstruments.CallsChosen));
        Assert.Equal(Writes, Sum(metrics, ReplicationInstruments.CallsApplied));
        Assert.Equal(Writes, Count(metrics, ReplicationInstruments.CallsChooseDuration));
        Assert.Equal(Writes, Count(metrics, ReplicationInstruments.CallsDuration, ReplicationInstruments.KindTag, "write"));
        Assert.Equal(Reads, Count(metrics, ReplicationInstruments.CallsDuration, ReplicationInstruments.KindTag, "read"));
        Assert.Equal(Reads, Sum(metrics, ReplicationInstruments.Reads, ReplicationInstruments.PathTag, "read-index"));
        Assert.Equal(0, Sum(metrics, ReplicationInstruments.Reads, ReplicationInstruments.PathTag, "lease")); // leases are off
        Assert.Equal(1, Sum(metrics, ReplicationInstruments.LeaderCampaigns));
        Assert.Equal(1, Sum(metrics, ReplicationInstruments.LeaderChanges, ReplicationInstruments.ChangeTag, "gained"));
        Assert.Equal(Writes / SnapshotEvery, Count(metrics, ReplicationInstruments.SnapshotBytes));
        Assert.Equal(1, Count(metrics, ReplicationInstruments.ReplayDuration));
        Assert.Equal(1, Gauge(metrics, ReplicationInstruments.GroupsActive));
        Assert.True(Gauge(metrics, ReplicationInstruments.GroupsHeld) >= 6, "3 replicas of the grain's group and 3 of the roster group");
        // Persisted: every accept reaches three WALs; group commit may join them, so at least one fsync per write.
        Assert.True(Sum(metrics, ReplicationInstruments.WalAppends) >= 3 * Writes);
        Assert.True(Sum(metrics, ReplicationInstruments.WalBytes) > 0);
        Assert.True(Count(metrics, ReplicationInstruments.WalFsyncDuration) >= Writes);
        Assert.True(Sum(metrics, ReplicationInstruments.TransportMessages) >= 2 * Writes, "an accept to each follower per write");
        Assert.True(Sum(metrics, ReplicationInstruments.TransportBatches, ReplicationInstruments.OutcomeTag, "delivered") > 0);

        tracer.ForceFlush();
        var mine = spans.Where(s => s.Source.Name == OpenReplicaTelemetry.ActivitySourceName).ToList();
        var calls = spans.Where(s => s.Source.Name == "Microsoft.Orleans.Application" && s.Kind == ActivityKind.Server && s.DisplayName.Contains("Deposit")).ToList();
        Assert.Equal(Writes, calls.Count);
        foreach (var call in calls)
        {
            var children = mine.Where(s => s.ParentSpanId == call.SpanId && s.TraceId == call.TraceId).ToList();
            Assert.Equal(
                [CallTracing.ApplySpan, CallTracing.ChooseSpan, CallTracing.ProposeSpan],
                children.Select(s => s.DisplayName).Order(StringComparer.Ordinal));
            var propose = children.Single(s => s.DisplayName == CallTracing.ProposeSpan);
            var choose = children.Single(s => s.DisplayName == CallTracing.ChooseSpan);
            var apply = children.Single(s => s.DisplayName == CallTracing.ApplySpan);
            Assert.Equal(choose.GetTagItem(CallTracing.SlotTag), apply.GetTagItem(CallTracing.SlotTag));
            Assert.True(choose.StartTimeUtc >= propose.StartTimeUtc && apply.StartTimeUtc >= choose.StartTimeUtc, "propose, then choose, then apply");
        }
    }

    private static IEnumerable<MetricPoint> Points(List<MetricSnapshot> metrics, string name, string? tag, string? value) =>
        metrics.Where(m => m.Name == name).SelectMany(m => m.MetricPoints).Where(p => tag is null || HasTag(p, tag, value));

    private static bool HasTag(MetricPoint point, string tag, string? value)
    {
        foreach (var t in point.Tags) if (t.Key == tag && Equals(t.Value, value)) return true;
        return false;
    }

    private static long Sum(List<MetricSnapshot> metrics, string name, string? tag = null, string? value = null) =>
        Points(metrics, name, tag, value).Sum(p => p.GetSumLong());

    private static long Count(List<MetricSnapshot> metrics, string name, string? tag = null, string? value = null) =>
        Points(metrics, name, tag, value).Sum(p => p.GetHistogramCount());

    private static long Gauge(List<MetricSnapshot> metrics, string name) =>
        Points(metrics, name, null, null).Sum(p => p.GetGaugeLastValueLong());
}

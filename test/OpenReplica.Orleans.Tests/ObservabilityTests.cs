using System.Diagnostics;
using OpenReplica.Orleans.Diagnostics;
using OpenReplica.Orleans.Testing;
using OpenTelemetry;
using OpenTelemetry.Metrics;
using OpenTelemetry.Trace;
using Orleans.Hosting;
using Orleans.Runtime;
using R = OpenReplica.Orleans.Diagnostics.ReplicationInstruments;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A known workload on a Persisted 3-silo cluster, read back through OpenTelemetry's in-memory exporter: every
/// instrument of <see cref="ReplicationInstruments"/> (the list in docs/observability.md) shows exactly what the
/// workload did — writes and reads, a deactivation that gives up leadership and lets the group leave memory, a second
/// activation that campaigns and replays, and a lost majority that makes the client retry and give up — and each
/// replicated call shows propose → choose → apply spans under Orleans' own call activity. In the fault collection
/// (one at a time), so no other cluster in the process adds to the meter.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class ObservabilityTests
{
    private const int Writes = 10;
    private const int Reads = 5;
    private const int SnapshotEvery = 4;
    private const int ClientRetries = 2;

    [Fact]
    public async Task A_known_workload_shows_in_metrics_and_traces()
    {
        var metrics = new Metrics();
        var spans = new List<Activity>();
        using var meters = Sdk.CreateMeterProviderBuilder()
            .AddMeter(OpenReplicaTelemetry.MeterName)
            .AddInMemoryExporter(metrics.Exported, r => r.PeriodicExportingMetricReaderOptions.ExportIntervalMilliseconds = int.MaxValue)
            .Build();
        metrics.Provider = meters;
        using var tracer = Sdk.CreateTracerProviderBuilder()
            .AddSource(OpenReplicaTelemetry.ActivitySourceName, "Microsoft.Orleans.Application")
            .AddInMemoryExporter(spans)
            .Build();
        await using var cluster = await ReplicatedTestCluster.StartAsync(o =>
        {
            o.Mode = ReplicationMode.Persisted;
            o.CallTimeout = TimeSpan.FromSeconds(2);
            o.ConfigureReplication = r =>
            {
                r.SnapshotEveryCommands = SnapshotEvery;
                r.IdleGroupEvictionAfter = TimeSpan.FromSeconds(1);
            };
            o.ConfigureSilo = silo => silo.AddActivityPropagation();
            o.ConfigureClient = client =>
            {
                client.AddActivityPropagation();
                client.UseReplicatedGrains(r => r.MaxRetries = ClientRetries);
            };
        });
        var grain = cluster.Client.GetGrain<IAccountGrain>("observed");

        // 1. Writes and reads on the grain's first activation.
        for (int i = 0; i < Writes; i++) await grain.Deposit(1);
        for (int i = 0; i < Reads; i++) Assert.Equal(Writes, await grain.GetBalance());

        // The gauges count every replica of the grain's group and of the roster group (3), in memory or only on disk.
        // The grain's group has a replica on each silo that heard from its leader: a majority at least, which holds every
        // write. A silo whose first messages for it were dropped (on a loaded machine a fresh silo may not list the
        // sender as alive yet) builds its replica only when the group next sends to it, and an idle group sends
        // nothing; the roster group starts in the background. So the test counts the replicas that exist, then waits
        // until the gauges agree.
        var runtimes = cluster.Silos.Select(s => cluster.Service<Replication.ReplicationRuntime>(s)).ToList();
        string groupId = Replication.ReplicationRuntime.GroupIdOf(grain.GetGrainId(), 3);
        int GrainReplicas() => runtimes.Count(r => r.Holds(groupId));
        string seen = "";
        await Eventually(() =>
        {
            int replicas = GrainReplicas();
            metrics.Flush();
            long held = metrics.Gauge(R.GroupsHeld), evicted = metrics.Gauge(R.GroupsEvicted);
            seen = $"{held} held + {evicted} evicted, {replicas} replicas of the grain's group";
            return replicas >= 2 && held + evicted == 3 + replicas && replicas == GrainReplicas();
        }, () => $"the gauges count the grain group's replicas (a majority at least) and the roster group's 3 (last seen: {seen})");
        int grainReplicas = GrainReplicas();

        var transports = cluster.Silos.Select(s => cluster.Service<ReplicaTransport>(s)).ToList();
        long queuedBefore = transports.Sum(t => t.Enqueued), deliveredBefore = transports.Sum(t => t.BatchesDelivered), droppedBefore = transports.Sum(t => t.Dropped);
        metrics.Flush();
        long queuedAfter = transports.Sum(t => t.Enqueued), deliveredAfter = transports.Sum(t => t.BatchesDelivered), droppedAfter = transports.Sum(t => t.Dropped);

        int snapshots = Writes / SnapshotEvery;
        Assert.Equal(Writes, metrics.Sum(R.CallsProposed));
        Assert.Equal(Writes, metrics.Sum(R.CallsChosen));
        Assert.Equal(Writes, metrics.Sum(R.CallsApplied));
        Assert.Equal(Writes, metrics.Count(R.CallsChooseDuration));
        Assert.Equal(Writes, metrics.Count(R.CallsApplyDuration));
        Assert.Equal(Writes, metrics.Count(R.CallsDuration, (R.KindTag, "write")));
        Assert.Equal(Reads, metrics.Count(R.CallsDuration, (R.KindTag, "read")));
        // Every call's time covers its choose and apply times.
        Assert.True(metrics.HistogramSum(R.CallsDuration, (R.KindTag, "write")) >= metrics.HistogramSum(R.CallsChooseDuration));
        // Each snapshot also proposes a digest checkpoint (docs/determinism.md): those are proposals, not calls.
        Assert.Equal(Writes + snapshots, metrics.HistogramSum(R.ProposeBatchSize));
        Assert.InRange(metrics.Count(R.ProposeBatchSize), 1, Writes + snapshots);
        Assert.Equal(Reads, metrics.Sum(R.Reads, (R.PathTag, "read-index")));
        Assert.Equal(0, metrics.Sum(R.Reads, (R.PathTag, "lease"))); // leases are off
        Assert.Equal(1, metrics.Sum(R.LeaderCampaigns, (R.GroupKindTag, GroupMetrics.Grain)));
        Assert.Equal(1, metrics.Sum(R.LeaderChanges, (R.ChangeTag, "gained"), (R.GroupKindTag, GroupMetrics.Grain)));
        Assert.Equal(0, metrics.Sum(R.LeaderChanges, (R.ChangeTag, "lost"), (R.GroupKindTag, GroupMetrics.Grain)));
        Assert.Equal(snapshots, metrics.Count(R.SnapshotBytes));
        Assert.Equal(snapshots, metrics.Count(R.SnapshotDuration));
        Assert.True(metrics.HistogramSum(R.SnapshotBytes) > 0);
        // The leader's log holds the 2 calls since its last snapshot, on 3 replicas: payload + overhead each (LogMemoryBudget).
        Assert.InRange(metrics.Gauge(R.LogMemoryHeld), 2 * 3 * Replication.LogMemoryBudget.CommandOverheadBytes, 2 * 3 * (Replication.LogMemoryBudget.CommandOverheadBytes + 1024));
        Assert.Equal(1, metrics.Count(R.ReplayDuration));
        Assert.Equal(0, metrics.HistogramSum(R.ReplayCommands)); // a new grain has nothing to replay
        Assert.Equal(0, metrics.Sum(R.ClientRetries));
        Assert.Equal(0, metrics.Sum(R.ClientOutcomeUnknown));
        Assert.Equal(1, metrics.Gauge(R.GroupsActive));
        // A follower's replica holds no activation: it may already have left memory (a second after the last read) and
        // counts as evicted.
        long evictedEarly = metrics.Gauge(R.GroupsEvicted);
        Assert.InRange(evictedEarly, 0, grainReplicas - 1); // the leader's replica has the activation
        Assert.Equal(3 + grainReplicas - evictedEarly, metrics.Gauge(R.GroupsHeld));
        Assert.Equal(3, metrics.Points(R.GroupsHeld).Count(p => HasTag(p, R.SiloTag, null)));
        // Persisted: every accept reaches three WALs; group commit may join them, so at least one fsync per write.
        Assert.True(metrics.Sum(R.WalAppends) >= 3 * Writes);
        Assert.True(metrics.Sum(R.WalBytes) > metrics.Sum(R.WalAppends), "every record has a header and a body");
        Assert.True(metrics.Count(R.WalFsyncDuration) >= Writes);
        // The transport's counters agree with its own accounting, read just before and after the export.
        Assert.InRange(metrics.Sum(R.TransportMessages), Math.Max(queuedBefore, 2 * Writes), queuedAfter);
        Assert.InRange(metrics.Sum(R.TransportBatches, (R.OutcomeTag, "delivered")), Math.Max(deliveredBefore, 1), deliveredAfter);
        Assert.Equal(0, metrics.Sum(R.TransportBatches, (R.OutcomeTag, "failed")));
        Assert.InRange(metrics.Sum(R.TransportDropped), droppedBefore, droppedAfter);
        Assert.Equal(0, droppedAfter); // nothing is dropped in a healthy cluster with room in its queues
        Assert.True(metrics.Sum(R.TransportBytes) > metrics.Sum(R.TransportMessages), "every message has a payload");
        Assert.Equal(3, metrics.Points(R.TransportQueueDepth).Count());
        Assert.All(metrics.Points(R.TransportQueueDepth), p => Assert.InRange(p.GetGaugeLastValueLong(), 0, ReplicatedGrainsOptions.DefaultTransportQueueCapacity));

        // The spans of every write: propose → choose → apply under Orleans' call activity.
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

        // 2. The activation is collected: it gives up leadership, and its idle group leaves every silo's memory.
        await cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero, TestContext.Current.CancellationToken);
        await Eventually(() =>
        {
            int replicas = GrainReplicas(); // the leader's last messages may have reached a silo that missed the first
            metrics.Flush();
            return metrics.Gauge(R.GroupsEvicted) == replicas && replicas == GrainReplicas();
        }, "every replica of the grain's group leaves memory");
        Assert.Equal(3, metrics.Gauge(R.GroupsHeld)); // the roster group stays
        Assert.Equal(0, metrics.Gauge(R.GroupsActive));
        Assert.Equal(0, metrics.Gauge(R.LogMemoryHeld)); // a deactivated grain is charged nothing
        Assert.Equal(1, metrics.Sum(R.LeaderChanges, (R.ChangeTag, "lost"), (R.GroupKindTag, GroupMetrics.Grain)));
        // The meta group elects its leader in the background once the silos are active (grain calls do not wait for it).
        await Eventually(() =>
        {
            metrics.Flush();
            return metrics.Sum(R.LeaderChanges, (R.ChangeTag, "gained"), (R.GroupKindTag, GroupMetrics.Roster)) >= 1;
        }, "the roster group elects a leader");
        Assert.True(metrics.Sum(R.LeaderCampaigns, (R.GroupKindTag, GroupMetrics.Roster)) >= 1, "a leader campaigned first");

        // 3. The next call activates the grain again: it campaigns, replays what follows the last snapshot, leads.
        Assert.Equal(Writes + 1, await grain.Deposit(1));
        metrics.Flush();
        Assert.Equal(2, metrics.Sum(R.LeaderCampaigns, (R.GroupKindTag, GroupMetrics.Grain)));
        Assert.Equal(2, metrics.Sum(R.LeaderChanges, (R.ChangeTag, "gained"), (R.GroupKindTag, GroupMetrics.Grain)));
        Assert.Equal(2, metrics.Count(R.ReplayDuration));
        Assert.Equal(Writes - snapshots * SnapshotEvery, metrics.HistogramSum(R.ReplayCommands));
        Assert.Equal(Writes + 1, metrics.Sum(R.CallsApplied));
        Assert.Equal(1, metrics.Gauge(R.GroupsActive));

        // 4. Two of three silos die: no majority, so the client retries with the same stamp, then reports the outcome unknown.
        await cluster.KillSiloAsync(cluster.Silos[2]);
        await cluster.KillSiloAsync(cluster.Silos[1]);
        await Assert.ThrowsAsync<CallOutcomeUnknownException>(() => grain.Deposit(1));
        metrics.Flush();
        Assert.Equal(ClientRetries, metrics.Sum(R.ClientRetries));
        Assert.Equal(1, metrics.Sum(R.ClientOutcomeUnknown));
    }

    private static bool HasTag(MetricPoint point, string tag, string? value)
    {
        foreach (var t in point.Tags) if (t.Key == tag && (value is null || Equals(t.Value, value))) return true;
        return false;
    }

    private static Task Eventually(Func<bool> condition, string what) => Eventually(condition, () => what);

    private static async Task Eventually(Func<bool> condition, Func<string> what)
    {
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out waiting for: {what()}.");
            await Task.Delay(100, TestContext.Current.CancellationToken);
        }
    }

    /// <summary>The latest export only (cumulative values), filtered by instrument name and tags.</summary>
    private sealed class Metrics
    {
        public List<MetricSnapshot> Exported { get; } = [];

        public MeterProvider? Provider { get; set; }

        public void Flush()
        {
            Exported.Clear();
            Provider!.ForceFlush();
        }

        public IEnumerable<MetricPoint> Points(string name, params (string Tag, string Value)[] tags) =>
            Exported.Where(m => m.Name == name).SelectMany(m => m.MetricPoints).Where(p => tags.All(t => HasTag(p, t.Tag, t.Value)));

        public long Sum(string name, params (string Tag, string Value)[] tags) => Points(name, tags).Sum(p => p.GetSumLong());

        public long Count(string name, params (string Tag, string Value)[] tags) => Points(name, tags).Sum(p => p.GetHistogramCount());

        public double HistogramSum(string name, params (string Tag, string Value)[] tags) => Points(name, tags).Sum(p => p.GetHistogramSum());

        public long Gauge(string name) => Points(name).Sum(p => p.GetGaugeLastValueLong());
    }
}

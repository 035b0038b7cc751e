using System.Diagnostics;
using OpenReplica.Orleans;

namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// The scale run: idle fleets (plain, replicated Persisted, replicated Volatile) weighed on fresh clusters, then a
/// long log reactivated on two more clusters (default snapshots, snapshots off). Bounded as a whole; whatever
/// finished is reported.
/// </summary>
internal static class ScaleRun
{
    public const string Begin = "<!-- scale:begin -->";
    public const string End = "<!-- scale:end -->";

    /// <summary>Grains per class activated and collected before the baseline, so JIT, type caches and pools are not counted per grain.</summary>
    private const int WarmUpGrains = 200;

    public static async Task<int> RunAsync(ScaleSettings s)
    {
        var started = Stopwatch.StartNew();
        string tempRoot = Path.Combine(Path.GetTempPath(), "openreplica-scale", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(tempRoot);
        var logs = new FileLoggerProvider(Path.Combine(tempRoot, "silos.log"));
        var report = new ScaleReport(s, DateTimeOffset.UtcNow, Machine.LoadAverage());
        // Progress goes to stderr so stdout carries only the markdown result.
        void Status(string message) => Console.Error.WriteLine($"[{started.Elapsed:mm\\:ss}] {message}");

        string current = "starting";
        var work = RunAllAsync(s, report, tempRoot, logs, message => Status(current = message));
        string? problem = await SectionRun.AwaitBoundedAsync(work, s.Bound, () => current);
        if (problem is not null) report.Notes.Add(problem);
        if (logs.Count > 0) report.Notes.Add($"{logs.Count:N0} warnings/errors were logged by silos and client (file `{logs.Path}`, kept only with --keep-temp or when the run was cut short).");
        report.Finish(started.Elapsed, Machine.LoadAverage());
        SectionRun.Publish(report.Markdown(), s.DocPath, Begin, End, Status);
        logs.Dispose();
        SectionRun.Exit(problem is null, s.KeepTemp, tempRoot);
        return 0;
    }

    private static async Task RunAllAsync(ScaleSettings s, ScaleReport report, string tempRoot, FileLoggerProvider logs, Action<string> status)
    {
        if (s.Runs("idle")) await IdleFleetsAsync(s, report, tempRoot, logs, status);
        // SnapshotEveryCommands is a silo option, so each setting gets its own cluster.
        foreach (int every in new[] { ReplicatedGrainsOptions.DefaultSnapshotEveryCommands, int.MaxValue })
        {
            if (!s.Runs(every == int.MaxValue ? "replay" : "reactivation")) continue;
            string label = every == int.MaxValue ? "snapshots off" : $"snapshot every {every:N0}";
            status($"reactivation, Persisted cluster, {label}");
            await using var cluster = await LocalCluster.StartAsync(ReplicationMode.Persisted, Path.Combine(tempRoot, $"replay-{every}"), logs, CancellationToken.None,
                silo => silo.Configure<ReplicatedGrainsOptions>(o =>
                {
                    o.SnapshotEveryCommands = every;
                    // "Snapshots off" replays the whole log: no snapshot at deactivation either.
                    if (every == int.MaxValue) o.SnapshotOnDeactivationAfterCommands = 0;
                    o.IdleGroupEvictionAfter = ReactivationProbe.EvictAfter;
                }));
            report.Reactivation.Add(await ReactivationProbe.MeasureAsync(cluster, label, every, s.LogEntries, s.Repetitions, s.LogBound, status));
        }
    }

    private static async Task IdleFleetsAsync(ScaleSettings s, ScaleReport report, string tempRoot, FileLoggerProvider logs, Action<string> status)
    {
        var persistedRuntimes = await PersistedFleetsAsync(s, report, tempRoot, logs, status);
        status("waiting until the stopped Persisted cluster's replica groups are collected");
        if (!await ClusterRelease.AwaitCollectionAsync(persistedRuntimes, TimeSpan.FromSeconds(30)))
        {
            report.Notes.Add("The Persisted cluster's replication runtimes were still reachable 30 s after it stopped; the Volatile fleet's bytes per grain may be too low.");
        }
        if (s.VolatileGrains > 0)
        {
            status("idle fleet, Volatile cluster");
            await using var cluster = await LocalCluster.StartAsync(ReplicationMode.Volatile, null, logs, CancellationToken.None);
            await WarmUpAsync(cluster, s, GrainClasses.Replicated);
            report.Idle.Add(await IdleMemoryProbe.MeasureAsync(cluster, "3. replicated Volatile", GrainClasses.Replicated, "volatile", s.VolatileGrains, s.PhaseBound, status));
        }
    }

    /// <summary>
    /// The plain and Persisted fleets on one cluster, which is stopped before returning. In its own method so that
    /// nothing in the caller keeps the stopped cluster reachable; returns weak references to its runtimes.
    /// </summary>
    private static async Task<IReadOnlyList<WeakReference>> PersistedFleetsAsync(ScaleSettings s, ScaleReport report, string tempRoot, FileLoggerProvider logs,
        Action<string> status)
    {
        status("idle fleets, Persisted cluster");
        await using var cluster = await LocalCluster.StartAsync(ReplicationMode.Persisted, Path.Combine(tempRoot, "idle-persisted"), logs, CancellationToken.None);
        await WarmUpAsync(cluster, s, GrainClasses.Plain, GrainClasses.Replicated);
        // Plain first: it is the baseline "what Orleans itself keeps per deactivated grain".
        report.Idle.Add(await IdleMemoryProbe.MeasureAsync(cluster, "1. plain grain", GrainClasses.Plain, "plain", s.Grains, s.PhaseBound, status));
        report.Idle.Add(await IdleMemoryProbe.MeasureAsync(cluster, "2. replicated Persisted", GrainClasses.Replicated, "persisted", s.Grains, s.PhaseBound, status));
        return ClusterRelease.Track(cluster);
    }

    private static async Task WarmUpAsync(LocalCluster cluster, ScaleSettings s, params string[] grainClasses)
    {
        foreach (string grainClass in grainClasses)
        {
            await IdleMemoryProbe.CreateAsync(cluster.Client, grainClass, "warm-up", WarmUpGrains, s.PhaseBound);
            await Deactivation.CollectAsync(cluster.Client, IdleMemoryProbe.TypeNameOf(grainClass), s.PhaseBound);
        }
    }
}

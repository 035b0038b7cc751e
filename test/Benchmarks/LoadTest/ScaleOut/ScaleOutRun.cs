using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenReplica.LoadTest.External;
using OpenReplica.LoadTest.Scale;
using OpenReplica.Orleans;

namespace OpenReplica.LoadTest.ScaleOut;

/// <summary>
/// The scale-out run on silo processes (issue 13's load-tool targets): spread over six silos, a seventh joining under
/// load, and a rolling replacement of all six under load (Volatile, and Persisted with new empty data directories),
/// checked for exactly-once. Orleans membership lives in a private Redis, so the first silo can be replaced too.
/// Bounded as a whole; whatever finished is reported.
/// </summary>
internal static class ScaleOutRun
{
    public const string Begin = "<!-- scaleout:begin -->";
    public const string End = "<!-- scaleout:end -->";

    public static async Task<int> RunAsync(ScaleOutSettings s)
    {
        var started = Stopwatch.StartNew();
        string tempRoot = Path.Combine(Path.GetTempPath(), "openreplica-scaleout", Guid.NewGuid().ToString("N"));
        Directory.CreateDirectory(tempRoot);
        var logs = new FileLoggerProvider(Path.Combine(tempRoot, "client.log"));
        var report = new ScaleOutReport(s, DateTimeOffset.UtcNow, Machine.LoadAverage());
        string current = "starting";
        // Progress goes to stderr so stdout carries only the markdown result.
        void Status(string message)
        {
            current = message;
            Console.Error.WriteLine($"[{started.Elapsed:mm\\:ss}] {message} (load {Machine.LoadAverage()})");
        }

        var work = RunAllAsync(s, report, tempRoot, logs, Status);
        string? problem = await SectionRun.AwaitBoundedAsync(work, s.Bound, () => current);
        if (problem is not null) report.Notes.Add(problem);
        int problems = SiloProblems(tempRoot) + logs.Count;
        if (problems > 0) report.Notes.Add($"{problems:N0} warnings/errors were logged by the silos and the client (files under `{tempRoot}`, kept only with --keep-temp or when the run did not finish).");
        report.Finish(started.Elapsed, Machine.LoadAverage());
        SectionRun.Publish(report.Markdown(), s.DocPath, Begin, End, Status);
        logs.Dispose();
        SectionRun.Exit(problem is null, s.KeepTemp, tempRoot);
        return 0;
    }

    private static async Task RunAllAsync(ScaleOutSettings s, ScaleOutReport report, string tempRoot, FileLoggerProvider logs, Action<string> status)
    {
        status("starting a private redis-server for Orleans membership");
        await using var redis = await RedisServer.StartAsync(tempRoot, CancellationToken.None);
        if (s.Phases.Contains("spread")) await SpreadAndJoinAsync(s, report, tempRoot, redis.ConnectionString, logs, status);
        foreach (var mode in new[] { ReplicationMode.Volatile, ReplicationMode.Persisted })
        {
            if (s.Phases.Contains(mode.ToString().ToLowerInvariant())) await RollingAsync(s, report, mode, tempRoot, redis.ConnectionString, logs, status);
        }
    }

    private static Task<ProcessCluster> StartClusterAsync(string name, ReplicationMode mode, string tempRoot, string redis, FileLoggerProvider logs,
        Action<string> status)
    {
        var spec = new ProcessClusterSpec(name, ScaleOutSettings.Silos, mode, ScaleOutSettings.Replicas,
            mode == ReplicationMode.Persisted ? Path.Combine(tempRoot, name) : null, TimeSpan.Zero,
            ExtraSiloArguments: ["--redis-membership", redis],
            ConfigureClient: c => c.UseRedisClustering(redis),
            // The client's retries (with the stamp, the failure that caused each) and its early ends of pending calls:
            // what a slow call waited for.
            ConfigureClientLogging: l => l
                .AddFilter("OpenReplica.Orleans.StampingCallFilter", LogLevel.Debug)
                .AddFilter("OpenReplica.Orleans.GatewayLossWatch", LogLevel.Information));
        return ProcessCluster.StartAsync(spec, tempRoot, logs, line => status($"{name}: {line}"), CancellationToken.None);
    }

    /// <summary>The roster must be the six silos before the grains are written, or their groups are born on a smaller roster and moved.</summary>
    private static async Task<HashSet<string>> AwaitFullRosterAsync(ScaleOutSettings s, ProcessCluster cluster, ClusterView view, string name, Action<string> status)
    {
        var live = cluster.Addresses.ToHashSet();
        status($"{name}: waiting until the roster is all {live.Count} silos");
        var wait = await view.WaitAsync(live, rebalanced: true, s.RosterBound);
        if (!wait.Reached) throw new TimeoutException($"the roster did not become the {live.Count} silos within {s.RosterBound.TotalSeconds:0} s: {wait.LastState}");
        return live;
    }

    private static async Task SpreadAndJoinAsync(ScaleOutSettings s, ScaleOutReport report, string tempRoot, string redis, FileLoggerProvider logs,
        Action<string> status)
    {
        const string name = "spread";
        await using var cluster = await StartClusterAsync(name, ReplicationMode.Volatile, tempRoot, redis, logs, status);
        var view = new ClusterView(cluster.Client);
        var live = await AwaitFullRosterAsync(s, cluster, view, name, status);

        var ledger = new CounterLedger(cluster.Client, "spread", s.Grains);
        status($"{name}: writing each of {s.Grains:N0} grains once");
        var writing = Stopwatch.StartNew();
        int writeFailures = await ledger.WriteEachOnceAsync(s.SweepBound);
        var writeTook = writing.Elapsed;
        status($"{name}: waiting until no rebalance is pending");
        var settled = await view.WaitAsync(live, rebalanced: true, s.RebalanceBound);
        var before = await view.StatusAsync() ?? throw new TimeoutException("no status answer after the grains were written");
        var groupOf = ledger.Keys.ToDictionary(k => k, k => GroupPlacement.GroupOf(k, ScaleOutSettings.Replicas));
        var configurations = ClusterView.Configurations(before, GroupPrefix);
        long[] rosterBefore = [.. before.Roster.Select(m => m.ReplicaId)];
        int onTheirSet = ledger.Keys.Count(k => configurations.TryGetValue(groupOf[k], out var members)
            && members.SequenceEqual(GroupPlacement.ReplicaSet(k, rosterBefore, ScaleOutSettings.Replicas)));
        var replicas = new Balance("replicas per silo", [.. before.Silos.Select(silo => configurations.Values.Count(m => m.Contains(silo.ReplicaId)))],
            (double)s.Grains * ScaleOutSettings.Replicas / ScaleOutSettings.Silos);
        var activationsBySilo = await view.ActivationsAsync();
        var activations = new Balance("activations per silo", [.. before.Silos.Select(silo => activationsBySilo.GetValueOrDefault(silo.Silo))],
            (double)s.Grains / ScaleOutSettings.Silos);
        report.Spread = new SpreadResult(s.Grains, writeFailures, writeTook, settled, configurations.Count, onTheirSet, replicas, activations);
        status($"{name}: replicas per silo [{string.Join(", ", replicas.Counts)}], activations per silo [{string.Join(", ", activations.Counts)}]");

        // Join: a seventh silo while the writers run.
        long movesBefore = before.Silos.Sum(x => x.MovesCompleted);
        var writers = CounterWriters.Start(ledger, s.Callers);
        status($"{name}: starting a seventh silo under {s.Callers} writers");
        int newcomer = await cluster.AddSiloAsync(tempRoot, CancellationToken.None);
        live.Add(cluster.Addresses[newcomer]);
        var joined = await view.WaitAsync(live, rebalanced: false, s.RosterBound);
        status($"{name}: roster took in the seventh silo after {joined.Took.TotalSeconds:0} s ({(joined.Reached ? "ok" : "not within the bound")}); waiting for the rebalance");
        var rebalanced = await view.WaitAsync(live, rebalanced: true, s.RebalanceBound);
        var writerStats = await writers.StopAsync(TimeSpan.FromSeconds(45));
        var after = await view.StatusAsync() ?? throw new TimeoutException("no status answer after the seventh silo joined");
        var configurationsAfter = ClusterView.Configurations(after, GroupPrefix);
        long[] rosterAfter = [.. after.Roster.Select(m => m.ReplicaId)];
        var compared = configurations.Keys.Where(configurationsAfter.ContainsKey).ToList();
        int moved = compared.Count(g => !configurations[g].SequenceEqual(configurationsAfter[g]));
        long newcomerId = after.Silos.FirstOrDefault(x => x.Silo == cluster.Addresses[newcomer])?.ReplicaId ?? 0;
        report.Join = new JoinResult(s.Grains, joined, rebalanced, compared.Count, moved,
            GroupPlacement.IdealMoves(ledger.Keys, rosterBefore, rosterAfter, ScaleOutSettings.Replicas),
            (double)s.Grains * ScaleOutSettings.Replicas / (ScaleOutSettings.Silos + 1),
            configurationsAfter.Values.Count(m => m.Contains(newcomerId)), after.Silos.Sum(x => x.MovesCompleted) - movesBefore, writerStats);
        status($"{name}: {moved:N0} groups moved; {writerStats.Errors} caller errors, slowest call {writerStats.MaxMs:N0} ms");
    }

    private static async Task RollingAsync(ScaleOutSettings s, ScaleOutReport report, ReplicationMode mode, string tempRoot, string redis, FileLoggerProvider logs,
        Action<string> status)
    {
        string name = $"rolling-{mode.ToString().ToLowerInvariant()}";
        await using var cluster = await StartClusterAsync(name, mode, tempRoot, redis, logs, status);
        var view = new ClusterView(cluster.Client);
        var live = await AwaitFullRosterAsync(s, cluster, view, name, status);
        var ledger = new CounterLedger(cluster.Client, name, s.RollingGrains);
        status($"{name}: writing each of {s.RollingGrains:N0} grains once");
        int writeFailures = await ledger.WriteEachOnceAsync(s.SweepBound);
        var settled = await view.WaitAsync(live, rebalanced: true, s.RebalanceBound);
        if (!settled.Reached) status($"{name}: a rebalance was still pending before the roll: {settled.LastState}");

        var steps = new List<RollStep>();
        var roll = Stopwatch.StartNew();
        var writers = CounterWriters.Start(ledger, s.Callers);
        // In the report from the start, so a run cut short by its bound still shows the steps that finished.
        var result = new RollingResult(mode, s.RollingGrains, writeFailures, steps, TimeSpan.Zero, null, null);
        report.Rolling.Add(result);
        WriterStats writerStats;
        try
        {
            for (int old = 0; old < ScaleOutSettings.Silos; old++)
            {
                var step = Stopwatch.StartNew();
                status($"{name}: replacing silo {old + 1} of {ScaleOutSettings.Silos}: starting its successor ({writers.Errors} caller errors so far)");
                int successor = await cluster.AddSiloAsync(tempRoot, CancellationToken.None);
                live.Add(cluster.Addresses[successor]);
                var joined = await view.WaitAsync(live, rebalanced: true, s.RosterBound + s.RebalanceBound);
                status($"{name}: successor in the roster and rebalanced after {joined.Took.TotalSeconds:0} s ({(joined.Reached ? "ok" : "NOT within the bound: " + joined.LastState)}); stopping silo {old} gracefully");
                var stopping = Stopwatch.StartNew();
                string stop = await cluster.StopGracefullyAsync(old, s.StopBound);
                var stopTook = stopping.Elapsed;
                live.Remove(cluster.Addresses[old]);
                var left = await view.WaitAsync(live, rebalanced: true, s.RosterBound + s.RebalanceBound);
                status($"{name}: silo {old} stopped ({stop}) and left the roster after {left.Took.TotalSeconds:0} s ({(left.Reached ? "ok" : "NOT within the bound: " + left.LastState)})");
                steps.Add(new RollStep(old, joined, stop, stopTook, left, step.Elapsed));
            }
        }
        finally
        {
            writerStats = await writers.StopAsync(TimeSpan.FromSeconds(45));
        }
        var took = roll.Elapsed;
        status($"{name}: roll done in {took.TotalSeconds:0} s, {writerStats.Errors} caller errors; reading every grain back");
        foreach (var slow in writerStats.Slowest) status($"{name}: slow call {slow}");
        report.Rolling[report.Rolling.IndexOf(result)] = result = result with { Took = took, Writers = writerStats };
        var check = await ExactlyOnceResult.CheckAsync(ledger, s.SweepBound);
        report.Rolling[report.Rolling.IndexOf(result)] = result with { Check = check };
        status($"{name}: {check.Read:N0} of {check.Grains:N0} grains read, {check.Lost} lost, {check.Duplicated} duplicated");
    }

    private static string GroupPrefix => $"{ScaleOutSettings.Replicas}|{GroupPlacement.GrainIdOf("x").Type}/";

    /// <summary>An entry's line is "time level category: message"; the rebalancer's Information entries are not problems.</summary>
    private static bool IsProblem(string line) => line.Split(' ', 3) is [_, "Warning" or "Error" or "Critical", _];

    /// <summary>Warnings and errors in the silos' log files.</summary>
    private static int SiloProblems(string tempRoot)
    {
        try
        {
            return Directory.EnumerateFiles(tempRoot, "*-silo-*.log").Sum(f => File.ReadLines(f).Count(IsProblem));
        }
        catch (IOException)
        {
            return 0;
        }
    }
}

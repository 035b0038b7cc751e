using OpenReplica.LoadTest.External;
using OpenReplica.Orleans;
using Spectre.Console;

namespace OpenReplica.LoadTest;

/// <summary>The run's phases, in order; each starts what its scenarios need and stops it before the next.</summary>
internal sealed class RunPhases(ProgressContext ctx, Settings s, RunReport report, TimeBudget budget, string tempRoot, FileLoggerProvider logs)
{
    private readonly ScenarioRunner _cells = new(ctx, s, report, budget);
    private readonly TimeSpan _idleSpan = TimeSpan.FromSeconds(s.Quick ? 1 : 3);

    /// <summary>How long the tool waits after the last call before it samples idle cost (past the commit flush and a 2 s lease).</summary>
    private static readonly TimeSpan IdleSettle = TimeSpan.FromSeconds(3);

    /// <summary>Measured unless skipped; with --only, when it names persisted or failover.</summary>
    private bool WantsFailover => s.Failover && (s.Only is null || s.Only.Contains("failover") || s.Runs(Scenario.Persisted));

    public async Task RunAsync()
    {
        if (new[] { Scenario.Plain, Scenario.Redis, Scenario.Postgres, Scenario.Volatile }.Any(s.Runs)) await GrainClusterAsync();
        // The failover runs on a fresh cluster of its own, except on quick runs (the Persisted cluster, after its cells).
        if (s.Runs(Scenario.Persisted) || (s.Quick && WantsFailover)) await PersistedAsync();
        if (s.Runs(Scenario.Etcd)) await EtcdAsync();
        // Five more silo processes for one data point: quick runs leave it out unless --only names it.
        if (s.Runs(Scenario.Persisted5) && !(s.Quick && s.Only is null)) await Factor5Async();
        else if (s.Runs(Scenario.Persisted5)) report.Notes.Add($"{Scenarios.Name(Scenario.Persisted5)}: not run on quick runs (`--only persisted5` runs it).");
        if (WantsFailover && !s.Quick) await FailoverAsync();
    }

    /// <summary>Scenarios 1, 2 and 3a share one Volatile cluster of 3 silo processes (which also reach Redis and PostgreSQL).</summary>
    private async Task GrainClusterAsync()
    {
        var serversTask = ctx.AddTask("start Redis and PostgreSQL", maxValue: 1);
        await using var stores = await PersistenceStores.StartAsync(s, report, Path.Combine(tempRoot, "servers"), status => serversTask.Description = status);
        serversTask.Value = 1;
        serversTask.Description = "servers: " + Markup.Escape(string.Join(", ", report.Versions.DefaultIfEmpty("none needed")));
        var spec = new ProcessClusterSpec("volatile", 3, ReplicationMode.Volatile, 3, null, s.Lease, stores.Redis, stores.Postgres, LogMemoryBudgetMb: s.LogMemoryBudgetMb, AcceptSpares: s.AcceptSpares);
        await WithClusterAsync(spec, "3 silo processes, Volatile (also plain, Redis, PostgreSQL grains)", async cluster =>
        {
            await WarmUpAsync(cluster, [GrainClasses.Plain, GrainClasses.Replicated]);
            var idle0 = await Runner.IdleAsync(_idleSpan, cluster.ConsensusMessagesAsync);
            report.Idle.Add(new IdleSample("Volatile cluster after start", 0, idle0.CpuPercent, idle0.MessagesPerSecond));
            if (s.Runs(Scenario.Plain)) await RunGrainsAsync(cluster, Scenario.Plain, GrainClasses.Plain);
            if (stores.Redis is not null) await RunGrainsAsync(cluster, Scenario.Redis, ExternalGrainClasses.Redis);
            if (stores.Postgres is not null) await RunGrainsAsync(cluster, Scenario.Postgres, ExternalGrainClasses.Postgres);
            if (!s.Runs(Scenario.Volatile)) return;
            await RunGrainsAsync(cluster, Scenario.Volatile, GrainClasses.Replicated);
            await IdleAfterAsync(cluster, "Volatile cluster after its cells, no calls");
        });
    }

    private Task PersistedAsync() =>
        WithClusterAsync(new ProcessClusterSpec("persisted", 3, ReplicationMode.Persisted, 3, Path.Combine(tempRoot, "persisted"), s.Lease, LogMemoryBudgetMb: s.LogMemoryBudgetMb, AcceptSpares: s.AcceptSpares),
            "3 silo processes, Persisted (fsync)", async cluster =>
            {
                await WarmUpAsync(cluster, [GrainClasses.Replicated]);
                if (s.Runs(Scenario.Persisted))
                {
                    await RunGrainsAsync(cluster, Scenario.Persisted, GrainClasses.Replicated);
                    await IdleAfterAsync(cluster, "Persisted cluster after its cells, no calls");
                }
                if (WantsFailover && s.Quick) await MeasureFailoverAsync(cluster, s.Runs(Scenario.Persisted) ? $"the Persisted cluster above, after its cells ({s.Grains:N0} grains idle)" : "a fresh cluster");
            });

    private Task Factor5Async() =>
        WithClusterAsync(new ProcessClusterSpec("factor5", 5, ReplicationMode.Persisted, 5, Path.Combine(tempRoot, "factor5"), s.Lease, LogMemoryBudgetMb: s.LogMemoryBudgetMb, AcceptSpares: s.AcceptSpares),
            "5 silo processes, Persisted, replication factor 5", async cluster =>
            {
                await WarmUpAsync(cluster, [GrainClasses.Replicated]);
                await RunGrainsAsync(cluster, Scenario.Persisted5, GrainClasses.Replicated);
            });

    private async Task EtcdAsync()
    {
        var start = ctx.AddTask("start etcd (3 members)", maxValue: 1);
        var etcd = await PersistenceStores.StartOrReportAsync(report, Scenario.Etcd,
            ct => EtcdCluster.StartAsync(Path.Combine(tempRoot, "servers"), 3, ct), e => $"{e.Version} ({e.Settings})");
        start.Value = 1;
        if (etcd is null) return;
        await using (etcd)
        {
            await using var target = EtcdTarget.Connect(etcd.ClientUrls);
            report.Versions.Add($"dotnet-etcd {typeof(dotnet_etcd.EtcdClient).Assembly.GetName().Version?.ToString(3)}");
            await _cells.RunAsync(Scenario.Etcd, n => new EtcdKeys(target, n), Runner.NoMessages);
        }
    }

    /// <summary>
    /// A fresh Persisted cluster, so the failover is not measured behind the spread cells' 1,000 active grains; with
    /// the default options (no leases: with one, a new activation also waits until the old lease has surely ended).
    /// </summary>
    private Task FailoverAsync() =>
        WithClusterAsync(new ProcessClusterSpec("failover", 3, ReplicationMode.Persisted, 3, Path.Combine(tempRoot, "failover"), TimeSpan.Zero),
            "3 silo processes, Persisted, for the failover", cluster => MeasureFailoverAsync(cluster, "a fresh cluster"),
            reserved: true);

    private async Task MeasureFailoverAsync(ProcessCluster cluster, string where)
    {
        var task = ctx.AddTask("failover: kill -9 the silo process hosting a hot Persisted grain under write load", maxValue: 1);
        try
        {
            var window = TimeSpan.FromSeconds(s.Quick ? 2 : 3);
            report.Failover = await Failover.RunAsync(cluster, 16, window, window, TimeSpan.FromSeconds(60),
                status => task.Description = "failover: " + Markup.Escape(status)) with { Cluster = where };
        }
        catch (Exception e)
        {
            report.FailoverError = $"{e.GetType().Name}: {e.Message}";
        }
        task.Value = 1;
        budget.ReleaseReserve();
    }

    /// <summary>
    /// Fresh silo processes run tier-0 code: a few seconds of calls on every grain class the cluster will serve, so
    /// the first cells do not measure the JIT.
    /// </summary>
    private async Task WarmUpAsync(ProcessCluster cluster, string[] grainClasses)
    {
        var task = ctx.AddTask("warm up the silo processes", maxValue: 1);
        // Spread and hot: a grain that many callers share batches dozens of calls per slot, code the spread calls (one
        // per grain at a time) never reach, so the first hot-grain cell of a fresh cluster was the first to run it. In
        // one loaded run its silos still jitted 3-10 s into that cell (0.6-3.5 s of JIT time per second, after a 12 s
        // warm-up; docs/benchmarks.md, "Session 11").
        var targets = grainClasses.SelectMany(c => new ILoadTarget[]
        {
            GrainTarget.Of(cluster.Client, c, 64, prefix: "warm-up"),
            new GrainTarget([cluster.Client.GetGrain<ICounterGrain>("warm-up-hot", c)]), // not the cells' hot grain
        }).ToArray();
        await Runner.WarmUpAsync(targets, TimeSpan.FromSeconds(s.Quick ? 2 : 8), callers: 64);
        task.Value = 1;
    }

    private Task RunGrainsAsync(ProcessCluster cluster, Scenario scenario, string grainClass) =>
        _cells.RunAsync(scenario, n => GrainTarget.Of(cluster.Client, grainClass, n),
            Scenarios.IsReplicated(scenario) ? cluster.ConsensusMessagesAsync : Runner.NoMessages);

    /// <summary>
    /// Idle grains' cost once the last cell's tail is over: a leader tells its followers the last commit index 1 s
    /// after its group's last write (<c>GroupTable.CommitFlushQuietTicks</c>), so a sample taken at once counted every
    /// group's flush (≈ 670 messages/s after the spread writes, 2026-12-05) as if idle grains sent them for ever.
    /// </summary>
    private async Task IdleAfterAsync(ProcessCluster cluster, string when)
    {
        await Task.Delay(IdleSettle);
        var idle = await Runner.IdleAsync(_idleSpan, cluster.ConsensusMessagesAsync);
        report.Idle.Add(new IdleSample(when, s.Grains + 1, idle.CpuPercent, idle.MessagesPerSecond));
    }

    /// <summary>Starts a cluster of silo processes, runs <paramref name="body"/> on it, and stops it; a failed start is reported, not thrown.</summary>
    /// <param name="reserved">The phase the budget's reserve was kept for (it may use the reserve).</param>
    private async Task WithClusterAsync(ProcessClusterSpec spec, string title, Func<ProcessCluster, Task> body, bool reserved = false)
    {
        // A cluster start costs a few seconds per silo process on a loaded machine; do not begin one that cannot be used.
        var needed = TimeSpan.FromSeconds(5 * spec.Silos) + s.CellCost;
        if (!(reserved ? budget.FitsWithReserve(needed) : budget.Fits(needed)))
        {
            report.Notes.Add($"The cluster \"{title}\" was not started: no time left in the run's {s.Budget.TotalMinutes:0.#}-minute budget.");
            if (reserved) report.FailoverError = "skipped: no time left in the run's budget";
            return;
        }
        var start = ctx.AddTask(Markup.Escape($"start {title}"), maxValue: 1);
        ProcessCluster cluster;
        try
        {
            cluster = await ProcessCluster.StartAsync(spec, tempRoot, logs, status => start.Description = Markup.Escape($"{title}: {status}"), CancellationToken.None);
        }
        catch (Exception e)
        {
            report.Notes.Add($"The cluster \"{title}\" did not start: {e.GetType().Name}: {e.Message}");
            return;
        }
        start.Description = Markup.Escape($"started {title}");
        start.Value = 1;
        await using (cluster)
        {
            await body(cluster);
            if (cluster.LoggedProblems() is > 0 and var problems)
            {
                report.Notes.Add($"{title}: the silo processes logged {problems:N0} warnings/errors (files `{tempRoot}/{spec.Name}-silo-*.log`, kept only with --keep-temp or when the run was cut short).");
            }
        }
    }
}

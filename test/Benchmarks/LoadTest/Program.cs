using System.CommandLine;
using OpenReplica.LoadTest;

// Load tool: plain, IPersistentState (Redis, PostgreSQL) and replicated grains on clusters of silo processes, and a
// 3-member etcd cluster, driven by the same callers; then a kill -9 failover.
//   dotnet run -c Release --project test/Benchmarks/LoadTest -- [--quick]
var quick = new Option<bool>("--quick") { Description = "Short cells, 1 and 64 callers, hot grain at 64 only (under 3 minutes); docs are not written unless --doc is given" };
var duration = new Option<double?>("--duration") { Description = "Measured seconds per cell (default 5, quick 1.5)" };
var warmup = new Option<double?>("--warmup") { Description = "Warm-up seconds per cell (default 2, quick 0.5)" };
var grains = new Option<int>("--grains") { Description = "Grains (keys) the spread workloads use", DefaultValueFactory = _ => 1000 };
var callers = new Option<int[]?>("--callers") { Description = "Concurrent callers per cell (default 1 16 64 256, quick 1 64)", AllowMultipleArgumentsPerToken = true };
var doc = new Option<string?>("--doc") { Description = "Markdown file whose generated section is replaced (default: docs/benchmarks.md on full runs)" };
var chart = new Option<string?>("--chart") { Description = "PNG chart of throughput and p99 by callers (default: benchmarks.png beside the doc when one is written)" };
var noDoc = new Option<bool>("--no-doc") { Description = "Do not write the docs file (nor the chart, unless --chart)" };
var skipFailover = new Option<bool>("--skip-failover") { Description = "Skip the failover measurement" };
var keepTemp = new Option<bool>("--keep-temp") { Description = "Keep the temp directory (logs, data directories)" };
var only = new Option<string?>("--only") { Description = "Run only these scenarios (comma list of plain,redis,postgres,volatile,persisted,persisted5,etcd,failover)" };
var lease = new Option<int>("--lease-ms") { Description = "Leader lease of the replicated grains in the load scenarios, in milliseconds (LeaseDuration; 0: off, a read-index round per read). The failover always runs with the default (off)", DefaultValueFactory = _ => 2000 };
var spreadWrites = new Option<bool>("--spread-writes") { Description = "Only the writes spread over the grains (no hot grain, no reads): short before/after runs" };
var spreadReads = new Option<bool>("--spread-reads") { Description = "Only the [ReadOnly] reads spread over the grains (each grain written once first; no hot grain, no writes): short before/after runs" };
var logMemoryBudget = new Option<long?>("--log-memory-budget-mb") { Description = "ReplicatedGrainsOptions.LogMemoryBudget of the load scenarios' silos, in MiB (default: the library's, 256)" };
var acceptSpares = new Option<int?>("--accept-spares") { Description = "ReplicatedGrainsOptions.AcceptSpares of the load scenarios' silos (thrifty accepts; default: the library's, 1)" };
var budget = new Option<double?>("--budget") { Description = "Minutes the run may take; cells that do not fit are skipped (default 18.5, quick 2.75)" };

var root = new RootCommand("OpenReplica load test: plain, persistent-state, replicated grains and etcd: throughput, latency, failover")
{
    quick, duration, warmup, grains, callers, doc, chart, noDoc, skipFailover, only, keepTemp, budget, lease, spreadWrites, spreadReads, logMemoryBudget, acceptSpares,
};
root.SetAction(async (parse, cancellationToken) =>
{
    bool isQuick = parse.GetValue(quick);
    string? docPath = parse.GetValue(noDoc) ? null : parse.GetValue(doc) ?? (isQuick ? null : Path.Combine(Settings.RepoRoot(), "docs", "benchmarks.md"));
    var settings = new Settings(
        isQuick,
        TimeSpan.FromSeconds(parse.GetValue(duration) ?? (isQuick ? 1.5 : 5)),
        TimeSpan.FromSeconds(parse.GetValue(warmup) ?? (isQuick ? 0.5 : 2)),
        parse.GetValue(grains),
        parse.GetValue(callers) is { Length: > 0 } c ? c : isQuick ? [1, 64] : [1, 16, 64, 256],
        docPath,
        parse.GetValue(chart) ?? (docPath is null ? null : Path.Combine(Path.GetDirectoryName(Path.GetFullPath(docPath))!, "benchmarks.png")),
        !parse.GetValue(skipFailover),
        parse.GetValue(only)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(s => s.ToLowerInvariant()).ToHashSet(),
        parse.GetValue(keepTemp),
        TimeSpan.FromMinutes(parse.GetValue(budget) ?? (isQuick ? 2.75 : 18.5)),
        TimeSpan.FromMilliseconds(parse.GetValue(lease)),
        "dotnet run -c Release --project test/Benchmarks/LoadTest --" + (args.Length == 0 ? "" : " " + string.Join(' ', args)),
        parse.GetValue(spreadWrites),
        parse.GetValue(logMemoryBudget),
        parse.GetValue(spreadReads),
        parse.GetValue(acceptSpares));
    return await BenchmarkRun.RunAsync(settings, cancellationToken);
});
// `silo`: one silo process of a ProcessCluster (started by the tool itself); --redis-membership for the scaleout run
root.Subcommands.Add(SiloCommand.Create(OpenReplica.LoadTest.ScaleOut.ScaleOutSilo.Options, OpenReplica.LoadTest.ScaleOut.ScaleOutSilo.Configure));
root.Subcommands.Add(OpenReplica.LoadTest.Scale.ScaleCommand.Create()); // `scale`: idle grain memory and reactivation (Scale/)
root.Subcommands.Add(OpenReplica.LoadTest.ScaleOut.ScaleOutCommand.Create()); // `scaleout`: spread, join, rolling replacement (ScaleOut/)
root.Subcommands.Add(OpenReplica.LoadTest.EngineCost.EngineCostCommand.Create()); // `engine`: allocations and CPU per spread write in the engines alone (EngineCost/)
root.Subcommands.Add(OpenReplica.LoadTest.Births.BirthsCommand.Create()); // `births`: a new grain's first write against its second and a plain grain's first call (Births/)
root.Subcommands.Add(OpenReplica.LoadTest.ColdStart.ColdStartCommand.Create()); // `coldstart`: a fresh process's first replicated calls with and without the silo warm-up (ColdStart/)
return await root.Parse(args).InvokeAsync();

using System.Globalization;
using System.Text;

namespace OpenReplica.LoadTest;

internal sealed record IdleSample(string When, int ActiveReplicatedGrains, double CpuPercent, double MessagesPerSecond);

/// <summary>Everything one run measured, and its markdown (the generated section of docs/benchmarks.md).</summary>
internal sealed class RunReport
{
    public required string Command { get; init; }
    public required bool Quick { get; init; }
    public required DateTimeOffset Started { get; init; }
    public required TimeSpan Warmup { get; init; }
    public required TimeSpan Duration { get; init; }
    public required int Grains { get; init; }
    public required int AnchorCallers { get; init; }
    /// <summary>The replicated grains' leader lease (<c>LeaseDuration</c>); zero: off, every read runs a read-index round.</summary>
    public TimeSpan Lease { get; init; }
    public string LoadAverageStart { get; init; } = Machine.LoadAverage();
    public string LoadAverageEnd { get; set; } = "";
    public TimeSpan Elapsed { get; set; }
    public List<CellResult> Cells { get; } = [];
    public List<IdleSample> Idle { get; } = [];
    public List<string> Notes { get; } = [];
    /// <summary>Versions of the systems measured ("Redis 7.0.15", ...), as they reported themselves.</summary>
    public List<string> Versions { get; } = [];
    /// <summary>Scenarios that could not run, and why.</summary>
    public Dictionary<Scenario, string> Unavailable { get; } = [];
    public FailoverResult? Failover { get; set; }
    public string? FailoverError { get; set; }
    /// <summary>The chart's file name, relative to the doc (linked from the generated section).</summary>
    public string? ChartFile { get; set; }

    internal static string F(double v, string format = "0.00") => double.IsNaN(v) ? "–" : v.ToString(format, CultureInfo.InvariantCulture);

    public CellResult? Find(CellSpec spec) => Cells.FirstOrDefault(c => c.Spec == spec);

    /// <summary>This cell's throughput over the same cell's on <paramref name="reference"/> in this run.</summary>
    public double? Ratio(CellResult c, Scenario reference) =>
        Find(c.Spec.For(reference)) is { Throughput: > 0 } r ? c.Throughput / r.Throughput : null;

    public string Markdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Run: {Started:yyyy-MM-dd HH:mm} UTC, `{Command}`{(Quick ? " (quick)" : "")}; total {Elapsed.TotalSeconds:0} s.");
        sb.AppendLine();
        sb.AppendLine($"Source: {Machine.Git()}.");
        sb.AppendLine();
        sb.AppendLine($"Machine: {Machine.Describe()}. Load average (1/5/15 min) at start `{LoadAverageStart}`, at end `{LoadAverageEnd}` (the 2 cores are shared with other builds and tests).");
        sb.AppendLine();
        if (Versions.Count > 0)
        {
            sb.AppendLine($"Systems: {string.Join("; ", Versions)}.");
            sb.AppendLine();
        }
        sb.AppendLine($"Each cell: {Warmup.TotalSeconds:0.#} s warm-up, then {Duration.TotalSeconds:0.#} s measured; closed-loop callers in this tool's process; latency per call (client side) in an HdrHistogram. " +
            "`vs plain` / `vs etcd` = ops/s divided by scenario 1's / scenario 4's ops/s in the same cell (workload, callers, grains or keys) of this run. " +
            "`CPU %` = this tool and every process it started (silos, servers) over all cores during the measured window. " +
            "`consensus msgs/op` = messages queued by the silos' `ReplicaTransport`s (accepts, acks, heartbeats, ...) per completed call; `batches/op` = one-way deliveries between silos per completed call (each carries every group's messages for one peer silo). " +
            (Lease == TimeSpan.Zero
                ? "Replicated grains without leader leases (`LeaseDuration` 0, the default): every `[ReadOnly]` read runs a read-index round."
                : $"Replicated grains in the load cells with leader leases (`LeaseDuration` {Lease.TotalMilliseconds:0} ms): a leader holding its lease answers `[ReadOnly]` reads locally; the failover runs with the default (no lease)."));
        sb.AppendLine();
        if (ChartFile is not null)
        {
            sb.AppendLine($"![Throughput and p99 latency by caller count, writes over {Grains:N0} grains or keys]({ChartFile})");
            sb.AppendLine();
        }
        sb.Append(ResultTables.Markdown(this));
        sb.AppendLine("### Targets");
        sb.AppendLine();
        sb.Append(TargetTable.Markdown(this));
        sb.AppendLine();
        if (Idle.Count > 0)
        {
            sb.AppendLine("### Idle cost of activated replicated grains");
            sb.AppendLine();
            sb.AppendLine("Sampled for a few seconds once 3 s have passed without calls (after the last cell's commit flushes).");
            sb.AppendLine();
            sb.AppendLine("| When | Replicated grains active | CPU % (all processes, no calls) | Consensus messages/s |");
            sb.AppendLine("|---|---:|---:|---:|");
            foreach (var i in Idle) sb.AppendLine($"| {i.When} | {i.ActiveReplicatedGrains:N0} | {F(i.CpuPercent, "0")} | {F(i.MessagesPerSecond, "N0")} |");
            sb.AppendLine();
        }
        sb.AppendLine("### Failover (Persisted, silo processes)");
        sb.AppendLine();
        sb.AppendLine("Membership: probes every 1 s, a silo is declared dead after 3 missed probes by one vote (`ProbeTimeout` 1 s, `NumMissedProbesLimit` 3, `NumVotesForDeathDeclaration` 1); the client with the library's defaults (`UseReplicatedGrains()`: retries with the same stamp from 50 ms backing off to 500 ms with jitter, `CallDeadline` 60 s; Orleans' `ResponseTimeout` 30 s).");
        sb.AppendLine();
        sb.Append(FailoverReport.Markdown(Failover, FailoverError));
        if (Notes.Count > 0)
        {
            sb.AppendLine();
            foreach (var n in Notes) sb.AppendLine($"- {n}");
        }
        return sb.ToString();
    }
}

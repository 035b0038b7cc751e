using System.Text;
using OpenReplica.Orleans;
using Orleans.Configuration;
using OpenReplica.LoadTest.Scale;
using static OpenReplica.LoadTest.Scale.ScaleReport;

namespace OpenReplica.LoadTest.ScaleOut;

/// <summary>The results of a scale-out run, rendered as the markdown section of docs/benchmarks.md.</summary>
internal sealed class ScaleOutReport(ScaleOutSettings settings, DateTimeOffset started, string loadAverageStart) : SectionReport
{
    private const double SpreadTolerancePercent = 15;
    private const double MovesTolerance = 1.3;

    public SpreadResult? Spread { get; set; }
    public JoinResult? Join { get; set; }
    public List<RollingResult> Rolling { get; } = [];

    /// <summary>Orleans' failure detection with the tool's membership settings: missed probes × probe timeout.</summary>
    public static TimeSpan DetectionTime
    {
        get
        {
            var o = new ClusterMembershipOptions();
            LocalCluster.FastMembership(o);
            return o.ProbeTimeout * o.NumMissedProbesLimit;
        }
    }

    public string Markdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine("## Scale-out on silo processes (`scaleout`)");
        sb.AppendLine();
        sb.AppendLine("    dotnet run -c Release --project test/Benchmarks/LoadTest -- scaleout           # 10,000 grains spread and joined, 1,000 per rolling replacement; bounded at 60 minutes; rewrites this section");
        sb.AppendLine("    dotnet run -c Release --project test/Benchmarks/LoadTest -- scaleout --quick   # 1,000 and 300 grains, bounded at 20 minutes, stdout only (add --doc docs/benchmarks.md to write)");
        sb.AppendLine("    # options: --grains, --rolling-grains, --callers, --only spread,volatile,persisted, --rebalance-minutes, --keep-temp, --no-doc");
        sb.AppendLine();
        SectionRun.AppendHeader(sb, started, settings.Command, settings.Quick, $"{Elapsed.TotalMinutes:0.0} minutes", loadAverageStart,
            LoadAverageEnd);
        sb.AppendLine($"Setup: {ScaleOutSettings.Silos} silo processes (the load tool's `silo` subcommand), replication factor {ScaleOutSettings.Replicas}, the library's defaults for scale-out " +
            $"(`RosterSettlingPeriod` {N(ReplicatedGrainsOptions.DefaultRosterSettlingPeriod.TotalSeconds)} s, `RebalanceConcurrency` {ReplicatedGrainsOptions.DefaultRebalanceConcurrency} widening to `RebalanceConcurrencyMax` {ReplicatedGrainsOptions.DefaultRebalanceConcurrencyMax}, " +
            $"`DecommissionTimeout` {N(ReplicatedGrainsOptions.DefaultDecommissionTimeout.TotalSeconds)} s). Orleans membership in a private redis-server " +
            "(with localhost clustering the first silo holds the membership table and could not be replaced); the load tool's fast membership settings " +
            $"(1 s probes, dead after 3 missed, one vote: **detection ≈ {N(DetectionTime.TotalSeconds)} s**). One Orleans client in the tool's process with " +
            "`UseReplicatedGrains()` and every other option at its default (`ResponseTimeout` 30 s), its gateways from the membership table. " +
            $"Writers: {settings.Callers} closed-loop callers, each calling `Increment()` on a uniformly chosen grain; no retry of their own. Counts and configurations come from " +
            "the library's status API (`IReplicatedClusterStatus`, what `openreplica status` prints: the roster, each group's configuration as its leader holds it, " +
            "each silo's pending rebalance) and activations from Orleans' management grain (`GetSimpleGrainStatistics`). Every wait is bounded.");
        sb.AppendLine();
        sb.Append(SpreadSection());
        sb.Append(JoinSection());
        sb.Append(RollingSection());
        sb.Append(TargetsSection());
        SectionRun.AppendNotes(sb, Notes);
        return sb.ToString();
    }

    private string SpreadSection()
    {
        var sb = new StringBuilder();
        sb.AppendLine("### Spread: grains written once on six silos (Volatile)");
        sb.AppendLine();
        if (Spread is not { } r)
        {
            sb.AppendLine("Not run (or did not finish).");
            sb.AppendLine();
            return sb.ToString();
        }
        sb.AppendLine($"{r.Grains:N0} replicated counter grains, each written once (64 at a time, {N(r.WriteTook.TotalSeconds, "0.0")} s, {r.WriteFailures} failed) once the roster was all six silos; " +
            $"counted after the rebalancers reported nothing pending ({(r.Settled.Reached ? $"{N(r.Settled.Took.TotalSeconds, "0")} s" : "NOT within the bound: " + r.Settled.LastState)}). " +
            $"{r.GroupsSeen:N0} groups reported by their leaders; {r.GroupsOnTheirSet:N0} on exactly the replica set the placement function gives them in the roster.");
        sb.AppendLine();
        sb.AppendLine("| per silo | counts | min | max | mean | even | largest deviation from even |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|");
        foreach (var b in new[] { r.Replicas, r.Activations })
        {
            sb.AppendLine($"| {b.What} | {string.Join(", ", b.Counts.Select(c => c.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)))} | {b.Min:N0} | {b.Max:N0} | {N(b.Mean)} | {N(b.Even)} | **{N(b.MaxDeviationPercent, "0.0")} %** |");
        }
        sb.AppendLine();
        return sb.ToString();
    }

    private string JoinSection()
    {
        var sb = new StringBuilder();
        sb.AppendLine("### Join: a seventh silo under load");
        sb.AppendLine();
        if (Join is not { } j)
        {
            sb.AppendLine("Not run (or did not finish).");
            sb.AppendLine();
            return sb.ToString();
        }
        var w = j.Writers;
        sb.AppendLine($"The cluster of the spread phase; {settings.Callers} writers over its {j.Grains:N0} grains while a seventh silo process starts, joins the roster and the rebalancers move groups to it. " +
            "Moved = groups whose configuration (members, from the status API) differs before and after. The ideal by placement is the number of groups whose replica set " +
            "the placement function itself (rendezvous hashing over the real grain ids) changes between the two rosters; R·G/N is the simple figure.");
        sb.AppendLine();
        sb.AppendLine("| measure | value |");
        sb.AppendLine("|---|---:|");
        sb.AppendLine($"| roster took the new silo in after | {Wait(j.Joined)} |");
        sb.AppendLine($"| rebalance finished after (status: nothing pending) | {Wait(j.Rebalanced)} |");
        if (!j.Rebalanced.Reached) sb.AppendLine($"| status when the wait ended | {j.Rebalanced.LastState} |");
        sb.AppendLine($"| groups compared (seen before and after) | {j.Compared:N0} |");
        sb.AppendLine($"| **groups moved** | **{j.Moved:N0}** |");
        sb.AppendLine($"| ideal by placement | {j.IdealByPlacement:N0} (moved / ideal **{N(Ratio(j.Moved, j.IdealByPlacement), "0.00")}x**) |");
        sb.AppendLine($"| simple ideal R·G/N = {ScaleOutSettings.Replicas}·{j.Grains:N0}/{ScaleOutSettings.Silos + 1} | {N(j.SimpleIdeal)} (moved / ideal {N(Ratio(j.Moved, j.SimpleIdeal), "0.00")}x) |");
        sb.AppendLine($"| replicas on the new silo | {j.OnNewcomer:N0} |");
        sb.AppendLine($"| moves counted by the rebalancers (status) | {j.MovesCompleted:N0} |");
        sb.AppendLine($"| writer calls (per second) | {w.Calls:N0} ({N(w.CallsPerSecond)}/s over {N(w.Ran.TotalSeconds, "0")} s) |");
        sb.AppendLine($"| **caller errors** | **{w.Errors:N0}** |");
        sb.AppendLine($"| latency p50 / p99 / **slowest** | {N(w.P50Ms, "0.0")} / {N(w.P99Ms, "0")} / **{N(w.MaxMs, "0")} ms** ({w.SlowCalls:N0} calls over 1 s) |");
        sb.AppendLine();
        AppendErrors(sb, w);
        return sb.ToString();
    }

    private string RollingSection()
    {
        var sb = new StringBuilder();
        sb.AppendLine("### Rolling replacement of all six silos under load");
        sb.AppendLine();
        if (Rolling.Count == 0)
        {
            sb.AppendLine("Not run.");
            sb.AppendLine();
            return sb.ToString();
        }
        sb.AppendLine("A fresh six-silo cluster per mode; each grain written once, then writers run throughout while each original silo is replaced in turn: a new silo process " +
            "starts (Persisted: a new, empty data directory), the tool waits until the roster holds it and no rebalance is pending, then stops the old silo with Orleans' " +
            "graceful shutdown (which runs the decommission hand-over) and waits until the roster no longer holds it and no rebalance is pending. Afterwards every grain is read " +
            "and its counter compared with the increments acknowledged to the callers: less is a lost write; more than acknowledged + failed calls is a duplicate.");
        sb.AppendLine();
        sb.AppendLine("| mode | grains | silos replaced | roll took | writer calls | **caller errors** | p99 | **slowest call** | calls over 1 s | grains read back | **lost** | **duplicated** | failed calls that were applied |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in Rolling)
        {
            string took = r.Writers is null ? "cut short" : $"{N(r.Took.TotalSeconds, "0")} s";
            sb.AppendLine($"| {r.Mode} | {r.Grains:N0} | {r.Steps.Count} of {ScaleOutSettings.Silos} | {took} " +
                (r.Writers is { } w ? $"| {w.Calls:N0} | **{w.Errors:N0}** | {N(w.P99Ms, "0")} ms | **{N(w.MaxMs, "0")} ms** | {w.SlowCalls:N0} " : "| – | – | – | – | – ") +
                (r.Check is { } c ? $"| {c.Read:N0} of {c.Grains:N0} | **{c.Lost:N0}** | **{c.Duplicated:N0}** | {c.AppliedThoughFailed:N0} |" : "| – | – | – | – |"));
        }
        sb.AppendLine();
        sb.AppendLine("| mode | silo replaced | successor in roster, rebalanced | graceful stop (silo's report: ms, outcome) | stop took | old one out of the roster, rebalanced | step took |");
        sb.AppendLine("|---|---:|---:|---|---:|---:|---:|");
        foreach (var r in Rolling)
        {
            foreach (var step in r.Steps)
            {
                sb.AppendLine($"| {r.Mode} | {step.Old} | {Wait(step.Joined)} | {step.Stop} | {N(step.StopTook.TotalSeconds, "0.0")} s | {Wait(step.Left)} | {N(step.Took.TotalSeconds, "0")} s |");
            }
        }
        sb.AppendLine();
        foreach (var r in Rolling)
        {
            if (r.Writers is { } w) AppendErrors(sb, w, $"{r.Mode}: ");
            if (r.Check is { Problems.Count: > 0 } c)
            {
                sb.AppendLine($"{r.Mode}, read-back problems (first {c.Problems.Count}):");
                sb.AppendLine();
                foreach (var p in c.Problems) sb.AppendLine($"- {p}");
                sb.AppendLine();
            }
        }
        return sb.ToString();
    }

    private string TargetsSection()
    {
        var sb = new StringBuilder();
        sb.AppendLine("### Targets (issue 13, load tool on silo processes)");
        sb.AppendLine();
        sb.AppendLine("| Target | Measured | Met? |");
        sb.AppendLine("|---|---|---|");
        if (Spread is { } s)
        {
            foreach (var b in new[] { s.Replicas, s.Activations })
            {
                sb.AppendLine($"| {b.What} within ±{SpreadTolerancePercent:0} % of even ({s.Grains:N0} grains, 6 silos) | {b.Min:N0}–{b.Max:N0} around {N(b.Even)}: {N(b.MaxDeviationPercent, "0.0")} % | {Verdict(b.WithinPercent(SpreadTolerancePercent))} |");
            }
        }
        if (Join is { } j)
        {
            sb.AppendLine($"| a seventh silo moves ≤ {MovesTolerance}x the ideal number of groups | {j.Moved:N0} vs {j.IdealByPlacement:N0} by placement ({N(Ratio(j.Moved, j.IdealByPlacement), "0.00")}x); rebalance {(j.Rebalanced.Reached ? "finished" : "**did not finish within its bound**")} | {Verdict(j.Rebalanced.Reached && j.Moved <= MovesTolerance * j.IdealByPlacement)} |");
            sb.AppendLine($"| no call fails while it joins | {j.Writers.Errors:N0} errors of {j.Writers.Calls:N0} calls | {Verdict(j.Writers.Errors == 0)} |");
        }
        foreach (var r in Rolling)
        {
            bool complete = r.Steps.Count == ScaleOutSettings.Silos && r.Writers is not null;
            string mode = r.Mode == ReplicationMode.Persisted ? "Persisted, new empty directories" : "Volatile";
            if (!complete)
            {
                sb.AppendLine($"| rolling replacement ({mode}) completes | {r.Steps.Count} of {ScaleOutSettings.Silos} silos replaced | {Verdict(false)} |");
                continue;
            }
            var w = r.Writers!;
            sb.AppendLine($"| rolling replacement ({mode}): zero caller errors | {w.Errors:N0} of {w.Calls:N0} calls | {Verdict(w.Errors == 0)} |");
            if (r.Check is { } c)
            {
                sb.AppendLine($"| … every grain readable with every acknowledged write, zero duplicates | {c.Read:N0} of {c.Grains:N0} read; {c.Lost:N0} lost, {c.Duplicated:N0} duplicated | {Verdict(c.Exact)} |");
            }
            sb.AppendLine($"| … slowest call below Orleans' detection time ({N(DetectionTime.TotalSeconds)} s) | {N(w.MaxMs, "0")} ms | {Verdict(w.MaxMs < DetectionTime.TotalMilliseconds)} |");
        }
        sb.AppendLine("| a fault-domain test puts each group's replicas in distinct domains | not this tool: `ScaleOutTests.Each_groups_replicas_sit_in_distinct_fault_domains` | see the tests |");
        return sb.ToString();
    }

    private static void AppendErrors(StringBuilder sb, WriterStats w, string prefix = "")
    {
        if (w.FirstErrors.Count > 0)
        {
            sb.AppendLine($"{prefix}first caller errors (of {w.Errors:N0}; seconds since the writers started):");
            sb.AppendLine();
            foreach (var e in w.FirstErrors) sb.AppendLine($"- {e}");
            sb.AppendLine();
        }
        if (w.Slowest.Count > 0)
        {
            sb.AppendLine($"{prefix}slowest calls (of {w.SlowCalls:N0} over 1 s; when each started, to find it in the logs):");
            sb.AppendLine();
            foreach (var c in w.Slowest) sb.AppendLine($"- {c}");
            sb.AppendLine();
        }
    }

    private static string Wait(WaitResult w) => w.Reached ? $"{N(w.Took.TotalSeconds, "0")} s" : $"not within {N(w.Took.TotalSeconds, "0")} s";

    private static double Ratio(double a, double b) => b > 0 ? a / b : double.NaN;

    private static string Verdict(bool met) => met ? "**met**" : "**missed**";
}

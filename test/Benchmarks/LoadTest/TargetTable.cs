using System.Text;
using static OpenReplica.LoadTest.RunReport;

namespace OpenReplica.LoadTest;

/// <summary>The issue's targets, each judged met or missed from ratios of this run.</summary>
internal static class TargetTable
{
    private const double PlainShare = 1.0 / 3;
    private const double PostgresMultiple = 2;
    private const double ReadShare = 0.8;
    private const double HotWrites = 5000;
    private const double FailoverMs = 1000;

    public static string Markdown(RunReport report)
    {
        var sb = new StringBuilder();
        sb.AppendLine("| Target | Cell | Measured | Met? |");
        sb.AppendLine("|---|---|---:|---|");
        void Row(string target, string cell, string measured, bool? met) =>
            sb.AppendLine($"| {target} | {cell} | {measured} | {(met is null ? "not measured" : met.Value ? "**met**" : "**missed**")} |");
        void CellRow(string target, CellSpec spec, Func<CellResult, (string Measured, bool? Met)> judge)
        {
            if (report.Find(spec) is { } c)
            {
                var (measured, met) = judge(c);
                Row(target, spec.Name, measured, met);
            }
            else
            {
                Row(target, spec.Name, "not run", null);
            }
        }
        (string, bool?) Versus(CellResult c, Scenario reference, double atLeast) => report.Ratio(c, reference) is { } r
            ? ($"{F(r)}x of {Scenarios.Name(reference)} ({F(c.Throughput, "N0")} vs {F(report.Find(c.Spec.For(reference))!.Throughput, "N0")} ops/s)", r >= atLeast)
            : ($"{Scenarios.Name(reference)} not measured", null);

        int n = report.Grains, callers = report.AnchorCallers;
        var persistedWrites = new CellSpec(Scenario.Persisted, Workload.Write, callers, n);
        CellRow("Replicated Persisted writes ≥ 1/3 of plain", persistedWrites, c => Versus(c, Scenario.Plain, PlainShare));
        CellRow("Replicated Persisted writes ≥ 2x PostgreSQL persistence", persistedWrites, c => Versus(c, Scenario.Postgres, PostgresMultiple));
        foreach (var scenario in new[] { Scenario.Volatile, Scenario.Persisted })
        {
            foreach (int grains in new[] { n, 1 })
            {
                CellRow("Reads ≥ 80 % of plain", new CellSpec(scenario, Workload.Read, callers, grains), c => Versus(c, Scenario.Plain, ReadShare));
            }
        }
        var reads = report.Cells.Where(c => c.Spec.Workload == Workload.Read && c.Spec.IdleGrains == 0 && Scenarios.IsReplicated(c.Spec.Scenario))
            .Select(c => report.Ratio(c, Scenario.Plain)).OfType<double>().ToArray();
        if (reads.Length > 0)
        {
            Row("Reads ≥ 80 % of plain", "every replicated read cell of the run", $"{F(reads.Min())}x to {F(reads.Max())}x of plain", reads.Min() >= ReadShare);
        }
        foreach (var scenario in new[] { Scenario.Persisted, Scenario.Volatile })
        {
            CellRow("Hot grain ≥ 5,000 writes/s", new CellSpec(scenario, Workload.Write, callers, 1), c => ($"{F(c.Throughput, "N0")} writes/s", c.Throughput >= HotWrites));
        }
        if (report.Failover is { DetectedMs: { } detected, RecoveredMs: { } recovered } failover)
        {
            Row("Failover < 1 s after Orleans declares the silo dead", "kill -9 of the leader's silo process, Persisted",
                $"{F(Math.Max(0, recovered - detected), "0")} ms after detection ({F(detected, "0")} ms detection, first fresh write served {F(recovered, "0")} ms after the kill)", recovered - detected < FailoverMs);
            // A caller's view: no acknowledged write waits, and no stretch goes without acknowledgements, longer than
            // Orleans' detection + 1 s.
            double goal = detected + FailoverMs;
            Row("Slowest acknowledged write ≤ detection + 1 s", "kill -9 of the leader's silo process, Persisted",
                $"{F(failover.SlowestAckMs, "0")} ms (goal {F(goal, "0")} ms)", failover.SlowestAckMs <= goal);
            Row("Longest gap between acknowledged writes ≤ detection + 1 s", "kill -9 of the leader's silo process, Persisted",
                $"{F(failover.LongestAckGapMs, "0")} ms (goal {F(goal, "0")} ms)", failover.LongestAckGapMs <= goal);
            Row("No write fails", "kill -9 of the leader's silo process, Persisted", $"{failover.Failed:N0} failed", failover.Failed == 0);
        }
        else
        {
            Row("Failover < 1 s after Orleans declares the silo dead", "kill -9 of the leader's silo process, Persisted", report.FailoverError ?? "not observed", report.Failover is null ? null : false);
        }
        return sb.ToString();
    }
}

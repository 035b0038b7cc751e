using System.Globalization;
using System.Text;
using static OpenReplica.LoadTest.RunReport;

namespace OpenReplica.LoadTest;

/// <summary>One table per workload and key spread (writes over 1,000 grains, writes on the hot grain, ...), rows by caller count.</summary>
internal static class ResultTables
{
    public static string Markdown(RunReport report)
    {
        var sb = new StringBuilder();
        var tables = report.Cells
            .GroupBy(c => (c.Spec.Workload, Spread: c.Spec.Grains == 1 ? 1 : 0, c.Spec.IdleGrains))
            .OrderBy(g => g.Key.Workload).ThenBy(g => g.Key.Spread).ThenBy(g => g.Key.IdleGrains);
        foreach (var table in tables)
        {
            var first = table.First().Spec;
            string spread = first.Grains == 1 ? "one hot grain (key)" : $"spread over {first.Grains:N0} grains (keys)";
            string idle = first.IdleGrains > 0 ? $", {first.IdleGrains:N0} other replicated grains active but idle" : "";
            sb.AppendLine($"#### {(first.Workload == Workload.Write ? "Writes" : "Reads")}, {spread}{idle}");
            sb.AppendLine();
            sb.AppendLine("| Scenario | Operation | Callers | ops/s | vs plain | vs etcd | p50 ms | p99 ms | p99.9 ms | max ms | errors | CPU % | consensus msgs/op | batches/op | msgs dropped |");
            sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
            foreach (var c in table.OrderBy(c => c.Spec.Callers).ThenBy(c => c.Spec.Scenario)) sb.AppendLine(Row(report, c));
            if (first.IdleGrains == 0)
            {
                foreach (var (scenario, why) in report.Unavailable.OrderBy(u => u.Key))
                {
                    sb.AppendLine($"| {Scenarios.Name(scenario)} | {Scenarios.WorkloadName(scenario, first.Workload)} | – | not available: {why} | | | | | | | | | | |");
                }
            }
            sb.AppendLine();
        }
        return sb.ToString();
    }

    private static string Row(RunReport report, CellResult c)
    {
        bool replicated = Scenarios.IsReplicated(c.Spec.Scenario);
        string Ratio(Scenario reference) => c.Spec.Scenario == reference ? "1.00x" : report.Ratio(c, reference) is { } r ? F(r) + "x" : "–";
        return string.Create(CultureInfo.InvariantCulture,
            $"| {Scenarios.Name(c.Spec.Scenario)} | {Scenarios.WorkloadName(c.Spec.Scenario, c.Spec.Workload)} | {c.Spec.Callers} | {F(c.Throughput, "N0")} | {Ratio(Scenario.Plain)} | {Ratio(Scenario.Etcd)} " +
            $"| {F(c.P50Ms)} | {F(c.P99Ms)} | {F(c.P999Ms)} | {F(c.MaxMs, "0.0")} | {c.Errors}{(c.TimedOut ? " (timed out)" : "")} | {F(c.CpuPercent, "0")} " +
            $"| {(replicated ? F(c.MessagesPerOp, "0.00") : "–")} | {(replicated ? F(c.BatchesPerOp, "0.00") : "–")} | {(replicated ? c.Dropped.ToString("N0", CultureInfo.InvariantCulture) : "–")} |");
    }
}

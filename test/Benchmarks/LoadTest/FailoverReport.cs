using System.Text;
using static OpenReplica.LoadTest.RunReport;

namespace OpenReplica.LoadTest;

/// <summary>The failover measurement as markdown: detection (Orleans) and recovery (ours), and the exactly-once check.</summary>
internal static class FailoverReport
{
    public static string Markdown(FailoverResult? f, string? error)
    {
        if (error is not null) return $"Failover run failed: {error}\n";
        if (f is null) return "Failover not run.\n";
        var sb = new StringBuilder();
        string Ms(double? v) => v is { } x ? F(x, "0") + " ms" : "not observed";
        sb.AppendLine($"Grain `{f.Grain}` (Persisted, factor 3, 3 silo processes: {f.Cluster}), {f.Callers} callers writing in a closed loop plus a prober issuing a fresh write every 25 ms; the process of the silo hosting its activation (`{f.KilledSilo}`) killed with SIGKILL (`Process.Kill`); new host `{f.NewHost ?? "?"}`.");
        sb.AppendLine();
        sb.AppendLine("| Measure | Time after the kill |");
        sb.AppendLine("|---|---:|");
        sb.AppendLine($"| Orleans declared the silo dead (first `GetHosts(onlyActive)` poll without it; previous poll began at {Ms(f.DetectedAfterPreviousPollMs)}) | {Ms(f.DetectedMs)} |");
        sb.AppendLine($"| First successful write issued after the kill | {Ms(f.RecoveredMs)} |");
        sb.AppendLine($"| First acknowledgement of any write after the kill | {Ms(f.FirstAckAfterKillMs)} |");
        sb.AppendLine($"| Longest gap between two acknowledged writes | {F(f.LongestAckGapMs, "0")} ms |");
        sb.AppendLine($"| Slowest acknowledged write (issue to answer, retries included) | {F(f.SlowestAckMs, "0")} ms |");
        if (f.DetectedMs is { } detection)
        {
            sb.AppendLine($"| **Goal** for both rows above: Orleans' detection + 1 s | {F(detection + 1000, "0")} ms |");
        }
        if (f.DetectedMs is { } d && f.RecoveredMs is { } r)
        {
            sb.AppendLine($"| **Split**: Orleans' detection | {F(d, "0")} ms |");
            sb.AppendLine(r >= d
                ? $"| **Split**: our recovery after detection (re-activation, phase 1, replay, client retry) | {F(r - d, "0")} ms |"
                : $"| **Split**: our recovery after detection (re-activation, phase 1, replay, client retry) | 0 ms (the grain served again {F(d - r, "0")} ms before Orleans declared the silo dead) |");
        }
        sb.AppendLine();
        sb.AppendLine($"Write throughput on the grain: {F(f.ThroughputBefore, "N0")}/s before the kill (3 silos), {F(f.ThroughputAfter, "N0")}/s in the window after recovery (2 silos). " +
            $"Acknowledged writes {f.Acked:N0}, failed after all retries {f.Failed:N0}; counter {f.ValueBefore:N0} before the load and {f.FinalValue:N0} after " +
            $"(expected {f.ValueBefore + f.Acked:N0} + at most the {f.Failed:N0} failed calls): {(f.FinalValue >= f.ValueBefore + f.Acked && f.FinalValue <= f.ValueBefore + f.Acked + f.Failed ? "no acknowledged write lost, none applied twice" : "**MISMATCH**")}.");
        if (f.Note is not null) sb.AppendLine($"\nNote: {f.Note}");
        return sb.ToString();
    }
}

using System.Globalization;
using System.Reflection;
using System.Runtime.InteropServices;
using System.Text;

namespace OpenReplica.LoadTest;

internal sealed record IdleSample(string When, int ActiveReplicatedGrains, double CpuPercent, double MessagesPerSecond);

internal sealed class RunReport
{
    public required string Command { get; init; }
    public required bool Quick { get; init; }
    public required DateTimeOffset Started { get; init; }
    public required TimeSpan Warmup { get; init; }
    public required TimeSpan Duration { get; init; }
    public string LoadAverageStart { get; init; } = Machine.LoadAverage();
    public string LoadAverageEnd { get; set; } = "";
    public TimeSpan Elapsed { get; set; }
    public List<CellResult> Cells { get; } = [];
    public List<IdleSample> Idle { get; } = [];
    public List<string> Notes { get; } = [];
    public FailoverResult? Failover { get; set; }
    public string? FailoverError { get; set; }

    private static string F(double v, string format = "0.00") => double.IsNaN(v) ? "–" : v.ToString(format, CultureInfo.InvariantCulture);

    private CellResult? Find(Scenario s, Workload w, int callers, int grains, int idle = 0) =>
        Cells.FirstOrDefault(c => c.Spec.Scenario == s && c.Spec.Workload == w && c.Spec.Callers == callers && c.Spec.Grains == grains && c.Spec.IdleGrains == idle);

    public double? Ratio(CellResult c)
    {
        var plain = Find(Scenario.Plain, c.Spec.Workload, c.Spec.Callers, c.Spec.Grains);
        return plain is null || plain.Throughput == 0 ? null : c.Throughput / plain.Throughput;
    }

    public string Table()
    {
        var sb = new StringBuilder();
        sb.AppendLine("| Scenario | Workload | Callers | Grains | ops/s | vs plain | p50 ms | p99 ms | p99.9 ms | max ms | errors | CPU % | consensus msgs/op | msgs dropped |");
        sb.AppendLine("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var c in Cells.OrderBy(c => c.Spec.Workload).ThenBy(c => c.Spec.Grains).ThenBy(c => c.Spec.IdleGrains).ThenBy(c => c.Spec.Callers).ThenBy(c => c.Spec.Scenario))
        {
            var ratio = Ratio(c);
            sb.Append(CultureInfo.InvariantCulture, $"| {CellSpec.ScenarioName(c.Spec.Scenario)} | {(c.Spec.Workload == Workload.Write ? "write (Increment)" : "read ([ReadOnly] Get)")} | {c.Spec.Callers} | {(c.Spec.Grains == 1 ? "1 (hot)" : c.Spec.Grains.ToString("N0", CultureInfo.InvariantCulture))}{(c.Spec.IdleGrains > 0 ? $" + {c.Spec.IdleGrains:N0} idle" : "")} ");
            sb.Append(CultureInfo.InvariantCulture, $"| {F(c.Throughput, "N0")} | {(ratio is { } r ? F(r, "0.00") + "x" : "–")} | {F(c.P50Ms)} | {F(c.P99Ms)} | {F(c.P999Ms)} | {F(c.MaxMs, "0.0")} | {c.Errors}{(c.TimedOut ? " (timed out)" : "")} | {F(c.CpuPercent, "0")} | {(c.Spec.Scenario == Scenario.Plain ? "–" : F(c.MessagesPerOp, "0.00"))} | {(c.Spec.Scenario == Scenario.Plain ? "–" : c.Dropped.ToString("N0", CultureInfo.InvariantCulture))} |");
            sb.AppendLine();
        }
        return sb.ToString();
    }

    public string Targets()
    {
        var sb = new StringBuilder();
        sb.AppendLine("| Target | Cell | Measured | Met? |");
        sb.AppendLine("|---|---|---:|---|");
        void Row(string target, CellResult? c, Func<CellResult, (string Text, bool Met)> check)
        {
            if (c is null) { sb.AppendLine($"| {target} | not run | – | – |"); return; }
            var (text, met) = check(c);
            sb.AppendLine($"| {target} | {c.Spec.Name} | {text} | {(met ? "**yes**" : "**no**")} |");
        }
        Row("Persisted writes, 64 callers, 1,000 grains ≥ 1/3 of plain", Find(Scenario.Persisted, Workload.Write, 64, Grains), c => Ratio(c) is { } r ? ($"{F(r)}x of plain ({F(c.Throughput, "N0")} vs {F(Find(Scenario.Plain, Workload.Write, 64, Grains)!.Throughput, "N0")} ops/s)", r >= 1.0 / 3) : ("–", false));
        foreach (var s in new[] { Scenario.Persisted, Scenario.Volatile })
        {
            Row($"Hot grain ≥ 5,000 writes/s at 64 callers ({(s == Scenario.Persisted ? "Persisted" : "Volatile")})", Find(s, Workload.Write, 64, 1), c => ($"{F(c.Throughput, "N0")} writes/s", c.Throughput >= 5000));
        }
        foreach (var s in new[] { Scenario.Volatile, Scenario.Persisted })
        {
            foreach (int grains in new[] { Grains, 1 })
            {
                foreach (int callers in CallerCounts)
                {
                    Row($"Reads ≥ 80% of plain", Find(s, Workload.Read, callers, grains), c => Ratio(c) is { } r ? ($"{F(r * 100, "0")}% of plain", r >= 0.8) : ("–", false));
                }
            }
        }
        return sb.ToString();
    }

    public int Grains { get; init; } = 1000;
    public int[] CallerCounts { get; init; } = [1, 64];

    public string FailoverText()
    {
        if (FailoverError is not null) return $"Failover run failed: {FailoverError}\n";
        if (Failover is not { } f) return "Failover not run.\n";
        var sb = new StringBuilder();
        string Ms(double? v) => v is { } x ? F(x, "0") + " ms" : "not observed";
        sb.AppendLine($"Grain `{f.Grain}` (Persisted, factor 3, in a fresh cluster), {f.Callers} callers writing in a closed loop; the silo hosting its activation (`{f.KilledSilo}`) stopped abruptly (ungraceful `StopAsync`); new host `{f.NewHost ?? "?"}`.");
        sb.AppendLine();
        sb.AppendLine("| Measure | Time after the kill |");
        sb.AppendLine("|---|---:|");
        sb.AppendLine($"| Orleans declared the silo dead (first `GetHosts(onlyActive)` poll without it; previous poll began at {Ms(f.DetectedAfterPreviousPollMs)}) | {Ms(f.DetectedMs)} |");
        sb.AppendLine($"| First successful write issued after the kill (recovery) | {Ms(f.RecoveredMs)} |");
        sb.AppendLine($"| First acknowledgement of any write after the kill | {Ms(f.FirstAckAfterKillMs)} |");
        sb.AppendLine($"| Longest gap between two acknowledged writes | {F(f.LongestAckGapMs, "0")} ms |");
        if (f.DetectedMs is { } d && f.RecoveredMs is { } r)
        {
            sb.AppendLine($"| Recovery after detection (ours: re-activation, phase 1, replay, client retry) | {F(r - d, "0")} ms |");
        }
        sb.AppendLine();
        sb.AppendLine($"Write throughput on the grain: {F(f.ThroughputBefore, "N0")}/s before the kill (3 silos), {F(f.ThroughputAfter, "N0")}/s after recovery (2 silos). " +
            $"Acknowledged writes {f.Acked:N0}, failed after all retries {f.Failed:N0}; counter {f.ValueBefore:N0} before the load and {f.FinalValue:N0} after " +
            $"(expected {f.ValueBefore + f.Acked:N0} + at most the {f.Failed:N0} failed calls): {(f.FinalValue >= f.ValueBefore + f.Acked && f.FinalValue <= f.ValueBefore + f.Acked + f.Failed ? "no acknowledged write lost, none applied twice" : "**MISMATCH**")}.");
        if (f.Note is not null) sb.AppendLine($"\nNote: {f.Note}");
        return sb.ToString();
    }

    public string Markdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"Run: {Started:yyyy-MM-dd HH:mm} UTC, `{Command}`{(Quick ? " (quick)" : "")}; total {Elapsed.TotalSeconds:0} s.");
        sb.AppendLine();
        sb.AppendLine($"Source: {Machine.Git()}.");
        sb.AppendLine();
        sb.AppendLine($"Machine: {Machine.Describe()}. Load average (1/5/15 min) at start `{LoadAverageStart}`, at end `{LoadAverageEnd}` (the 2 cores are shared with other builds and tests).");
        sb.AppendLine();
        sb.AppendLine($"Each cell: {Warmup.TotalSeconds:0} s warm-up, then {Duration.TotalSeconds:0} s measured; closed-loop callers on one external Orleans client; latency per call (client side) in an HdrHistogram. " +
            "`vs plain` = ops/s divided by scenario 1's ops/s in the same cell of this run. `CPU %` = this process (3 silos + client) over all cores during the measured window. " +
            "`consensus msgs/op` = messages queued by the silos' `ReplicaTransport`s (accepts, acks, heartbeats, ...) per completed call.");
        sb.AppendLine();
        sb.Append(Table());
        sb.AppendLine();
        sb.AppendLine("### Targets");
        sb.AppendLine();
        sb.Append(Targets());
        sb.AppendLine();
        if (Idle.Count > 0)
        {
            sb.AppendLine("### Idle cost of activated replicated grains");
            sb.AppendLine();
            sb.AppendLine("| When | Replicated grains active | CPU % (process, no calls) | Consensus messages/s |");
            sb.AppendLine("|---|---:|---:|---:|");
            foreach (var i in Idle) sb.AppendLine($"| {i.When} | {i.ActiveReplicatedGrains:N0} | {F(i.CpuPercent, "0")} | {F(i.MessagesPerSecond, "N0")} |");
            sb.AppendLine();
        }
        sb.AppendLine("### Failover (Persisted)");
        sb.AppendLine();
        sb.AppendLine("Membership: probes every 1 s, a silo is declared dead after 3 missed probes by one vote (`ProbeTimeout` 1 s, `NumMissedProbesLimit` 3, `NumVotesForDeathDeclaration` 1); client retries with the same stamp from 20 ms backing off to 250 ms.");
        sb.AppendLine();
        sb.Append(FailoverText());
        if (Notes.Count > 0)
        {
            sb.AppendLine();
            foreach (var n in Notes) sb.AppendLine($"- {n}");
        }
        return sb.ToString();
    }
}

internal static class Machine
{
    public static string Describe()
    {
        string cpu = Read("/proc/cpuinfo").Split('\n').FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim() ?? RuntimeInformation.ProcessArchitecture.ToString();
        string mem = Read("/proc/meminfo").Split('\n').FirstOrDefault(l => l.StartsWith("MemTotal", StringComparison.Ordinal)) is { } line
            && long.TryParse(new string(line.Where(char.IsDigit).ToArray()), out long kb) ? $"{kb / 1024.0 / 1024.0:0.0} GiB" : "?";
        var orleans = typeof(global::Orleans.Grain).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion.Split('+')[0].Split(' ')[0].TrimEnd('.') ?? "?";
        return $"nproc {Environment.ProcessorCount} ({cpu}), memory {mem}, {RuntimeInformation.OSDescription}, {RuntimeInformation.FrameworkDescription}, Orleans {orleans}, GC {(System.Runtime.GCSettings.IsServerGC ? "server" : "workstation")}";
    }

    public static string Git()
    {
        string Run(string args)
        {
            try
            {
                var psi = new System.Diagnostics.ProcessStartInfo("git", args) { RedirectStandardOutput = true, RedirectStandardError = true, WorkingDirectory = Settings.RepoRoot() };
                using var p = System.Diagnostics.Process.Start(psi)!;
                string output = p.StandardOutput.ReadToEnd().Trim();
                p.WaitForExit(5000);
                return output;
            }
            catch
            {
                return "";
            }
        }
        string head = Run("rev-parse --short HEAD");
        string dirty = Run("status --porcelain -- src");
        return $"commit `{(head == "" ? "?" : head)}`" + (dirty == "" ? ", src/ clean" : $", src/ with uncommitted changes ({dirty.Split('\n').Length} files: other engineers' work in progress)");
    }

    public static string LoadAverage() => string.Join(' ', Read("/proc/loadavg").Split(' ').Take(3));

    private static string Read(string path)
    {
        try { return File.ReadAllText(path); } catch { return ""; }
    }
}

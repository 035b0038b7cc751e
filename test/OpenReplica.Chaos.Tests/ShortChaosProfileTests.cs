using System.Diagnostics;
using System.Text;

namespace OpenReplica.Chaos.Tests;

/// <summary>
/// The chaos tool's short profile, as CI runs it: three silo processes under a short SIGSTOP of the silo that leads the
/// workloads' grains (around the membership probe limit, the zombie-leader case) and under that silo cut off from the
/// other silos while its gateway stays reachable, with CAS registers, the bank, list appends and the coordination
/// lock running at once. Every history must pass its check. The partition cell needs root (iptables, cgroups); without
/// it the tool skips that cell and says why.
/// </summary>
public sealed class ShortChaosProfileTests
{
    private static readonly TimeSpan RunBound = TimeSpan.FromMinutes(6);

    [Fact]
    public async Task Every_history_of_the_short_profile_is_valid_and_the_faults_hit_the_leader()
    {
        const int seed = 16;
        string table = Path.Combine(Path.GetTempPath(), $"openreplica-chaos-short-{Environment.ProcessId}.md");
        var (exit, output) = await RunToolAsync(["--profile", "Short", "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), "--output", table]);
        Assert.True(File.Exists(table), $"the tool wrote no table (exit {exit}):\n{output}");
        var rows = File.ReadAllLines(table).Skip(2).Select(l => l.Split('|', StringSplitOptions.TrimEntries)[1..^1]).ToList();
        File.Delete(table);

        Assert.True(exit == 0, $"the chaos tool reported a violation or error (exit {exit}):\n{output}");
        bool redisMembership = output.Contains("membership in Redis", StringComparison.Ordinal);
        var pause = rows.Where(r => r[0] == "ShortPauseLeader").ToList();
        Assert.Equal(4, pause.Count); // Register, Bank, Append, Lock
        foreach (var row in rows.Where(r => !r[7].StartsWith("skipped", StringComparison.Ordinal)))
        {
            string verdict = row[7];
            Assert.True(verdict is "linearizable" or "total constant" or "no lost/duplicated append" || verdict.StartsWith("mutual exclusion", StringComparison.Ordinal),
                $"{row[0]} × {row[2]}: {verdict}\n{output}");
            Assert.True(int.Parse(row[4], System.Globalization.CultureInfo.InvariantCulture) > 0, $"{row[0]} × {row[2]} completed no operation\n{output}");
            // "applied on the leader / applied": the fault must have hit the silo that led the workloads' grains.
            var faults = row[8].Split('/');
            Assert.True(int.Parse(faults[1], System.Globalization.CultureInfo.InvariantCulture) > 0, $"{row[0]}: no fault was applied\n{output}");
            // Without Redis (.ci/services.sh) the tool uses localhost clustering and never faults silo 0, which holds the
            // membership table: when silo 0 leads, the fault must go elsewhere.
            if (redisMembership) Assert.True(faults[0] != "0", $"{row[0]}: no fault hit the leader's silo\n{output}");
        }
    }

    private static async Task<(int Exit, string Output)> RunToolAsync(string[] arguments)
    {
        var psi = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        psi.ArgumentList.Add(Path.Combine(AppContext.BaseDirectory, "Chaos.dll"));
        foreach (string a in arguments) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is { } line) lock (output) output.AppendLine(line); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is { } line) lock (output) output.AppendLine(line); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        try
        {
            await process.WaitForExitAsync().WaitAsync(RunBound);
        }
        catch (TimeoutException)
        {
            process.Kill(entireProcessTree: true);
            lock (output) Assert.Fail($"the short chaos profile did not finish within {RunBound.TotalMinutes:0} min:\n{output}");
        }
        lock (output) return (process.ExitCode, output.ToString());
    }
}

using System.Reflection;
using System.Runtime.InteropServices;

namespace OpenReplica.LoadTest;

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

using System.Diagnostics;

namespace OpenReplica.Chaos;

/// <summary>
/// Partitions with iptables on loopback: every rule this tool adds carries a comment unique to this run, and exactly
/// those rules are removed when healing, at exit and on Ctrl-C. Other rules on the machine are never touched.
/// </summary>
internal sealed class Partitions
{
    private static readonly string Tag = $"openreplica-chaos-{Environment.ProcessId}";
    private static readonly object Gate = new();
    private static readonly List<string[]> Added = [];
    private static int _hooked;

    public static bool Available => Run(["-w", "-L", "OUTPUT", "-n"]) == 0;

    /// <summary>
    /// Drops every packet to or from one silo's silo-to-silo port: other silos can no longer reach it (and its replies on
    /// those connections are lost); its gateway stays reachable for clients. Connections it opened itself to the other
    /// silos' ports are not cut (they are indistinguishable by port from the others' traffic on loopback).
    /// </summary>
    public void Isolate(int port)
    {
        if (Interlocked.Exchange(ref _hooked, 1) == 0) AppDomain.CurrentDomain.ProcessExit += (_, _) => HealAll();
        string p = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
        Add(["INPUT", "-i", "lo", "-p", "tcp", "--dport", p, "-m", "comment", "--comment", Tag, "-j", "DROP"]);
        Add(["INPUT", "-i", "lo", "-p", "tcp", "--sport", p, "-m", "comment", "--comment", Tag, "-j", "DROP"]);
    }

    private static void Add(string[] rule)
    {
        if (Run(["-w", "-I", .. rule]) != 0) throw new InvalidOperationException($"iptables -I {string.Join(' ', rule)} failed");
        lock (Gate) Added.Add(rule);
    }

    public void HealAll()
    {
        lock (Gate)
        {
            foreach (var rule in Added) Run(["-w", "-D", .. rule]);
            Added.Clear();
        }
    }

    private static int Run(string[] arguments)
    {
        try
        {
            using var p = Process.Start(new ProcessStartInfo("iptables", arguments) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true });
            if (p is null) return -1;
            p.WaitForExit(10_000);
            return p.HasExited ? p.ExitCode : -1;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return -1; // iptables not installed
        }
    }
}

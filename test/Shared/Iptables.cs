using System.Diagnostics;

namespace OpenReplica.Testing;

/// <summary>Runs the iptables command (the fault tools' firewall rules on loopback): its exit code, or -1 when it is not installed or hangs.</summary>
internal static class Iptables
{
    public static int Run(string[] arguments)
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

using System.Diagnostics;

namespace OpenReplica.Chaos;

/// <summary>
/// Puts every silo process of a run in its own cgroup (v2) before it opens a socket, so that firewall rules can tell
/// its connections from the others' on loopback (see <see cref="Partitions"/>). A shell wrapper writes its own pid
/// into the cgroup and then execs the silo, so the pid stays the silo's (SIGSTOP, kill -9). The cgroups are removed
/// at the end of the run. Unavailable (null) without a writable cgroup2 mount: partitions are then skipped.
/// </summary>
internal sealed class SiloCgroups : IDisposable
{
    private const string Root = "/sys/fs/cgroup/unified";
    private readonly string _run;

    private SiloCgroups(string run) => _run = run;

    /// <summary>The cgroup2 path of silo <paramref name="index"/>, relative to the cgroup2 root (iptables <c>--path</c>).</summary>
    public string PathOf(int index) => $"{System.IO.Path.GetFileName(_run)}/silo-{index}";

    /// <summary>Creates the run's cgroup and one per silo (a firewall rule can name a cgroup only once it exists).</summary>
    public static SiloCgroups? TryCreate(string name, int silos)
    {
        string root = Directory.Exists(Root) && File.Exists(System.IO.Path.Combine(Root, "cgroup.procs")) ? Root
            : File.Exists("/sys/fs/cgroup/cgroup.procs") ? "/sys/fs/cgroup" : "";
        if (root.Length == 0) return null;
        string run = System.IO.Path.Combine(root, $"openreplica-chaos-{Environment.ProcessId}-{name}");
        try
        {
            Directory.CreateDirectory(run);
            for (int i = 0; i < silos; i++) Directory.CreateDirectory(System.IO.Path.Combine(run, $"silo-{i}"));
            return new SiloCgroups(run);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    /// <summary>Wraps a silo's start: <c>sh -c 'echo $$ &gt; procs; exec dotnet …'</c>.</summary>
    public void Wrap(int index, ProcessStartInfo psi)
    {
        string group = System.IO.Path.Combine(_run, $"silo-{index}");
        string[] original = [psi.FileName, .. psi.ArgumentList];
        psi.FileName = "/bin/sh";
        psi.ArgumentList.Clear();
        psi.ArgumentList.Add("-c");
        psi.ArgumentList.Add("echo $$ > \"$0\" && exec \"$@\"");
        psi.ArgumentList.Add(System.IO.Path.Combine(group, "cgroup.procs"));
        foreach (string a in original) psi.ArgumentList.Add(a);
    }

    public void Dispose()
    {
        // A cgroup can be removed only once its processes have exited; the silos are gone by now (or nearly).
        for (int attempt = 0; attempt < 20; attempt++)
        {
            try
            {
                foreach (string group in Directory.EnumerateDirectories(_run)) Directory.Delete(group);
                Directory.Delete(_run);
                return;
            }
            catch (IOException)
            {
                Thread.Sleep(250);
            }
            catch (UnauthorizedAccessException)
            {
                return;
            }
        }
    }
}

using System.Diagnostics;

namespace OpenReplica.LoadTest;

/// <summary>
/// CPU time of this process and every process below it (silo processes, and the servers the external systems start),
/// read from /proc: with silos in their own processes, this process's CPU alone would miss most of the work.
/// </summary>
internal static class ProcessTreeCpu
{
    public static TimeSpan Total()
    {
        var total = TimeSpan.Zero;
        foreach (int pid in Tree(Environment.ProcessId))
        {
            try
            {
                using var p = Process.GetProcessById(pid);
                total += p.TotalProcessorTime;
            }
            catch (Exception)
            {
                // Exited between the listing and the read.
            }
        }
        return total;
    }

    private static List<int> Tree(int root)
    {
        var children = new Dictionary<int, List<int>>();
        foreach (var dir in SafeDirectories("/proc"))
        {
            if (!int.TryParse(Path.GetFileName(dir), out int pid)) continue;
            if (ParentOf(pid) is not { } parent) continue;
            if (!children.TryGetValue(parent, out var list)) children[parent] = list = [];
            list.Add(pid);
        }
        var tree = new List<int> { root };
        for (int i = 0; i < tree.Count; i++)
        {
            if (children.TryGetValue(tree[i], out var list)) tree.AddRange(list);
        }
        return tree;
    }

    /// <summary>The fourth field of /proc/PID/stat, after the parenthesised command name (which may hold spaces).</summary>
    private static int? ParentOf(int pid)
    {
        try
        {
            string stat = File.ReadAllText($"/proc/{pid}/stat");
            var fields = stat[(stat.LastIndexOf(')') + 2)..].Split(' ');
            return int.TryParse(fields[1], out int parent) ? parent : null;
        }
        catch (Exception)
        {
            return null;
        }
    }

    private static string[] SafeDirectories(string path)
    {
        try { return Directory.GetDirectories(path); } catch (Exception) { return []; }
    }
}

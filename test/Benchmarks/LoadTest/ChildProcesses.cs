using System.Collections.Concurrent;
using System.Diagnostics;

namespace OpenReplica.LoadTest;

/// <summary>
/// Every child process the tool starts, killed when the tool exits in any way it can observe (normal exit,
/// <c>Environment.Exit</c>, which is also how an interrupted run ends, an unhandled exception). A kill -9 of the tool cannot be observed: silo children
/// then exit because their stdin closes.
/// </summary>
internal static class ChildProcesses
{
    private static readonly ConcurrentDictionary<int, Process> Live = new();
    private static int _hooked;

    public static void Track(Process process)
    {
        if (Interlocked.Exchange(ref _hooked, 1) == 0)
        {
            AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
            AppDomain.CurrentDomain.UnhandledException += (_, _) => KillAll();
        }
        int id = process.Id;
        Live[id] = process;
        process.EnableRaisingEvents = true;
        process.Exited += (_, _) => Live.TryRemove(id, out _);
    }

    public static void KillAll()
    {
        foreach (var (_, process) in Live)
        {
            try { process.Kill(entireProcessTree: true); } catch { }
        }
    }
}

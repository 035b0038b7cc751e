using System.Runtime.InteropServices;

namespace OpenReplica.LoadTest.External;

/// <summary>
/// Kills every server still running when the tool ends without disposing it, so no redis-server, postgres or etcd
/// outlives a run: on a normal exit (ProcessExit) and on SIGINT, SIGTERM, SIGHUP and SIGQUIT, which on .NET 10 end
/// the process without raising ProcessExit. A handler that cancels Ctrl+C (System.CommandLine does, to dispose
/// gracefully) finds the servers already gone, which costs nothing: their data is scratch. Only SIGKILL escapes this;
/// the leftovers then hold private ports and directories no later run reuses.
/// </summary>
internal static class ExitGuard
{
    private static readonly HashSet<ServerProcess> Live = [];
    private static readonly PosixSignal[] EndingSignals = [PosixSignal.SIGINT, PosixSignal.SIGTERM, PosixSignal.SIGHUP, PosixSignal.SIGQUIT];
    private static PosixSignalRegistration[]? _registrations; // held: a collected registration stops delivering

    public static void Track(ServerProcess server)
    {
        lock (Live)
        {
            Live.Add(server);
            if (_registrations is not null) return;
            AppDomain.CurrentDomain.ProcessExit += (_, _) => KillAll();
            _registrations = [.. EndingSignals.Select(signal => PosixSignalRegistration.Create(signal, _ => KillAll()))];
        }
    }

    public static void Forget(ServerProcess server)
    {
        lock (Live) Live.Remove(server);
    }

    private static void KillAll()
    {
        ServerProcess[] servers;
        lock (Live) servers = [.. Live];
        foreach (var server in servers) server.KillTree();
    }
}

using System.Net;
using System.Net.Sockets;

namespace OpenReplica.LoadTest.External;

/// <summary>Picks free TCP ports on 127.0.0.1 for the tool's private servers (never the well-known 6379/5432/2379).</summary>
internal static class LoopbackPorts
{
    /// <summary>
    /// Returns <paramref name="count"/> distinct ports the kernel just handed out. All listeners are held until every
    /// port is chosen, so the same port is not returned twice; the server binds it a moment later.
    /// </summary>
    public static int[] Free(int count)
    {
        var listeners = new List<TcpListener>(count);
        try
        {
            for (int i = 0; i < count; i++)
            {
                var listener = new TcpListener(IPAddress.Loopback, 0);
                listener.Start();
                listeners.Add(listener);
            }
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners) listener.Stop();
        }
    }
}

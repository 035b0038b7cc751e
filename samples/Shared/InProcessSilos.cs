using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenReplica.Orleans;

namespace OpenReplica.Samples;

/// <summary>
/// Silos in this process on 127.0.0.1, on ports the operating system reports free (so a sample never clashes with
/// another Orleans application), each with its own data directory. Shared by the KeyValue and Coordination samples
/// (linked into both projects). Stopping goes in reverse order, the primary silo (which holds the development
/// membership table) last, so the others can still record that they left.
/// </summary>
public sealed class InProcessSilos : IAsyncDisposable
{
    private readonly List<IHost> _hosts;

    private InProcessSilos(List<IHost> hosts, int[] gatewayPorts)
    {
        _hosts = hosts;
        GatewayPorts = gatewayPorts;
    }

    /// <summary>The silos' client gateway ports, for <c>UseLocalhostClustering(gatewayPorts)</c>.</summary>
    public int[] GatewayPorts { get; }

    /// <summary>Starts <paramref name="count"/> Persisted silos with data directories <c>silo-1</c>.. under <paramref name="dataRoot"/>.</summary>
    public static async Task<InProcessSilos> StartAsync(string dataRoot, int count = 3)
    {
        int[] ports = FreePorts(2 * count);
        int[] gateways = [.. Enumerable.Range(0, count).Select(i => ports[count + i])];
        var primary = new IPEndPoint(IPAddress.Loopback, ports[0]);
        var hosts = new List<IHost>();
        var silos = new InProcessSilos(hosts, gateways);
        try
        {
            for (int i = 0; i < count; i++)
            {
                int n = i;
                var host = Host.CreateDefaultBuilder()
                    .ConfigureLogging(Quiet)
                    .UseOrleans(silo => silo
                        .UseLocalhostClustering(ports[n], gateways[n], primary)
                        .AddReplicatedGrains(o => o.DataDirectory = Path.Combine(dataRoot, $"silo-{n + 1}")))
                    .Build();
                hosts.Add(host);
                await host.StartAsync();
            }
        }
        catch
        {
            await silos.DisposeAsync();
            throw;
        }
        return silos;
    }

    /// <summary>
    /// Logging for a sample: OpenReplica's warnings and errors, Orleans' errors only (its warnings on a developer machine
    /// — server GC, the first watchdog check, connections closed by processes that exit — would bury the result).
    /// </summary>
    public static void Quiet(ILoggingBuilder logging) => logging
        .SetMinimumLevel(LogLevel.Warning)
        .AddFilter("Orleans", LogLevel.Error)
        .AddFilter("Microsoft.Orleans", LogLevel.Error);

    /// <summary>Ports that are free on 127.0.0.1 now (bound to port 0 and released; all distinct).</summary>
    public static int[] FreePorts(int count)
    {
        var listeners = Enumerable.Range(0, count).Select(_ => new TcpListener(IPAddress.Loopback, 0)).ToList();
        try
        {
            foreach (var listener in listeners) listener.Start();
            return [.. listeners.Select(l => ((IPEndPoint)l.LocalEndpoint).Port)];
        }
        finally
        {
            foreach (var listener in listeners) listener.Stop();
        }
    }

    /// <summary>Stops the silos gracefully, the primary last.</summary>
    public async ValueTask DisposeAsync()
    {
        for (int i = _hosts.Count - 1; i >= 0; i--)
        {
            await _hosts[i].StopAsync();
            _hosts[i].Dispose();
        }
        _hosts.Clear();
    }
}

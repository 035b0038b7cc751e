using System.Net;
using Microsoft.Extensions.Hosting;
using OpenReplica.Orleans;

namespace OpenReplica.Samples.KeyValue;

/// <summary>Three silos in this process on localhost (ports 11111.., gateways 30000..), each with its own data directory.</summary>
public static class Silos
{
    public const int Count = 3;
    public const int SiloPortBase = 11111;
    public const int GatewayPortBase = 30000;

    public static async Task<List<IHost>> StartAsync(string dataRoot)
    {
        var hosts = new List<IHost>();
        for (int i = 0; i < Count; i++)
        {
            int n = i;
            var host = Host.CreateDefaultBuilder()
                .ConfigureLogging(l => l.SetMinimumLevel(LogLevel.Warning))
                .UseOrleans(silo => silo
                    .UseLocalhostClustering(SiloPortBase + n, GatewayPortBase + n, new IPEndPoint(IPAddress.Loopback, SiloPortBase))
                    .AddReplicatedGrains(o =>
                    {
                        o.ReplicationFactor = 3;
                        o.DataDirectory = Path.Combine(dataRoot, $"silo-{n + 1}");
                    }))
                .Build();
            await host.StartAsync();
            hosts.Add(host);
        }
        return hosts;
    }
}

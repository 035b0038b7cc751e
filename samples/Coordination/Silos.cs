using System.Net;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenReplica.Orleans;

namespace OpenReplica.Samples.Coordination;

/// <summary>Three silos in the parent process on localhost, each with its own data directory.</summary>
internal static class Silos
{
    public const int Count = 3;
    public const int SiloPortBase = 11411;
    public const int GatewayPortBase = 30400;

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
                    .AddReplicatedGrains(o => o.DataDirectory = Path.Combine(dataRoot, $"silo-{n + 1}")))
                .Build();
            await host.StartAsync();
            hosts.Add(host);
        }
        return hosts;
    }
}

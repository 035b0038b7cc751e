using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenReplica.Coordination;
using OpenReplica.Orleans;
using OpenReplica.Samples;

namespace OpenReplica.Samples.Coordination;

/// <summary>
/// One client process: meets the others at a barrier, then repeatedly takes the lock and does a read-modify-write
/// of a shared value that would lose updates without mutual exclusion, then meets them again at the barrier.
/// </summary>
internal static class Worker
{
    public static async Task<int> RunAsync(int index, int[] gatewayPorts, int iterations)
    {
        using var host = Host.CreateDefaultBuilder()
            .ConfigureLogging(InProcessSilos.Quiet)
            .UseOrleansClient(c => c
                .UseLocalhostClustering(gatewayPorts)
                .UseReplicatedGrains())
            .Build();
        await host.StartAsync();
        var client = host.Services.GetRequiredService<IClusterClient>();

        var barrier = client.GetGrain<IBarrierGrain>("demo-barrier");
        var mutex = client.GetGrain<ILockGrain>("demo-lock");
        var shared = client.GetGrain<IMapGrain>("demo-map");
        await using var session = new CoordinationSession(TimeSpan.FromSeconds(5));
        session.Track(mutex); // renews this process's lease while it may hold the lock

        var start = await barrier.SignalAndWait();
        Console.WriteLine($"worker {index}: passed the start barrier (arrived #{start.Index})");
        for (int i = 0; i < iterations; i++)
        {
            await mutex.Acquire();
            try
            {
                // Deliberately not atomic: only the lock keeps two workers from reading the same value.
                long value = long.Parse(await shared.Get("total") ?? "0");
                await shared.Put("total", (value + 1).ToString());
            }
            finally
            {
                await mutex.Release();
            }
        }
        await barrier.SignalAndWait();
        Console.WriteLine($"worker {index}: done ({iterations} increments under the lock)");
        // Leave the cluster gracefully: a client that just exits resets its gateway connections, which the silos report.
        await host.StopAsync();
        return 0;
    }
}

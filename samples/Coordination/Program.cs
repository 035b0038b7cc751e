using System.Diagnostics;
using OpenReplica.Coordination;
using OpenReplica.Orleans;
using OpenReplica.Samples.Coordination;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// A distributed lock and a barrier used by several client processes.
//   dotnet run --project samples/Coordination            (3 silos here, 4 worker processes, 25 increments each)
const int Workers = 4;
const int Iterations = 25;

if (args.Length == 2 && args[0] == "--worker") return await Worker.RunAsync(int.Parse(args[1]), Iterations);

string dataRoot = Path.Combine(Path.GetTempPath(), "openreplica-coordination", Guid.NewGuid().ToString("N"));
var silos = await Silos.StartAsync(dataRoot);
var processes = new List<Process>();
try
{
    using var clientHost = Host.CreateDefaultBuilder()
        .UseOrleansClient(c => c
            .UseLocalhostClustering(Enumerable.Range(0, Silos.Count).Select(i => Silos.GatewayPortBase + i).ToArray())
            .UseReplicatedGrains())
        .Build();
    await clientHost.StartAsync();
    var client = clientHost.Services.GetRequiredService<IClusterClient>();
    await client.GetGrain<IBarrierGrain>("demo-barrier").Configure(Workers);

    string self = Environment.ProcessPath!;
    string dll = typeof(Worker).Assembly.Location;
    for (int i = 0; i < Workers; i++)
    {
        var start = self.EndsWith("dotnet") ? new ProcessStartInfo(self, [dll, "--worker", i.ToString()]) : new ProcessStartInfo(self, ["--worker", i.ToString()]);
        processes.Add(Process.Start(start)!);
    }
    using var deadline = new CancellationTokenSource(TimeSpan.FromMinutes(3));
    foreach (var p in processes) await p.WaitForExitAsync(deadline.Token);

    long total = long.Parse(await client.GetGrain<IMapGrain>("demo-map").Get("total") ?? "0");
    bool ok = total == Workers * Iterations && processes.All(p => p.ExitCode == 0);
    Console.WriteLine(ok
        ? $"total = {total} = {Workers} workers x {Iterations}: no update lost, the lock excluded every overlap."
        : $"FAILED: total = {total}, expected {Workers * Iterations}");
    return ok ? 0 : 1;
}
finally
{
    foreach (var p in processes.Where(p => !p.HasExited)) p.Kill(entireProcessTree: true);
    foreach (var silo in silos) await silo.StopAsync();
    try { Directory.Delete(dataRoot, recursive: true); } catch (IOException) { }
}

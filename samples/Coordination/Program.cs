using System.Diagnostics;
using OpenReplica.Coordination;
using OpenReplica.Orleans;
using OpenReplica.Samples;
using OpenReplica.Samples.Coordination;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

// A distributed lock and a barrier used by several client processes.
//   dotnet run --project samples/Coordination            (3 silos here, 4 worker processes, 25 increments each)
const int Workers = 4;
const int Iterations = 25;

// A worker: --worker INDEX --gateways PORT,PORT,PORT (started by the parent below).
if (args.Length == 4 && args[0] == "--worker" && args[2] == "--gateways")
{
    return await Worker.RunAsync(int.Parse(args[1]), [.. args[3].Split(',').Select(int.Parse)], Iterations);
}

string dataRoot = Path.Combine(Path.GetTempPath(), "openreplica-coordination", Guid.NewGuid().ToString("N"));
var silos = await InProcessSilos.StartAsync(dataRoot); // free ports, passed on to the workers
var processes = new List<Process>();
using var clientHost = Host.CreateDefaultBuilder()
    .ConfigureLogging(InProcessSilos.Quiet)
    .UseOrleansClient(c => c
        .UseLocalhostClustering(silos.GatewayPorts)
        .UseReplicatedGrains())
    .Build();
try
{
    await clientHost.StartAsync();
    var client = clientHost.Services.GetRequiredService<IClusterClient>();
    await client.GetGrain<IBarrierGrain>("demo-barrier").Configure(Workers);

    string self = Environment.ProcessPath!;
    string dll = typeof(Worker).Assembly.Location;
    string gateways = string.Join(',', silos.GatewayPorts);
    for (int i = 0; i < Workers; i++)
    {
        string[] workerArgs = ["--worker", i.ToString(), "--gateways", gateways];
        var start = self.EndsWith("dotnet") ? new ProcessStartInfo(self, [dll, .. workerArgs]) : new ProcessStartInfo(self, workerArgs);
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
    // The client leaves first, then the silos (gracefully, the primary last): a normal exit prints only the result.
    await clientHost.StopAsync();
    await silos.DisposeAsync();
    try { Directory.Delete(dataRoot, recursive: true); } catch (IOException) { }
}

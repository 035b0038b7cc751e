using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using OpenReplica.Orleans;
using OpenReplica.Samples;
using OpenReplica.Samples.KeyValue;

// A replicated key-value store: three silos in this process, an HTTP API in front.
//   dotnet run --project samples/KeyValue [DATA_DIR] [--port N]
// The silos take free ports; the HTTP API listens on --port (default: a free port) and prints its URL once it listens.
// Then: curl -X PUT http://127.0.0.1:PORT/kv/a -d hello; curl http://127.0.0.1:PORT/kv/a; curl http://127.0.0.1:PORT/health
int httpPort = 0;
string dataRoot = Path.Combine(Path.GetTempPath(), "openreplica-keyvalue");
for (int i = 0; i < args.Length; i++)
{
    if (args[i] == "--port" && i + 1 < args.Length && int.TryParse(args[i + 1], out httpPort) && httpPort is >= 0 and <= 65535) i++;
    else if (args[i] == "--port") return Fail($"--port needs a port number (0-65535), got '{(i + 1 < args.Length ? args[i + 1] : "")}'");
    else if (args[i].StartsWith("--", StringComparison.Ordinal)) return Fail($"unknown option '{args[i]}'");
    else dataRoot = args[i];
}

await using var silos = await InProcessSilos.StartAsync(dataRoot);

var builder = WebApplication.CreateBuilder();
builder.WebHost.UseUrls($"http://127.0.0.1:{httpPort}");
builder.Logging.ClearProviders().AddConsole();
InProcessSilos.Quiet(builder.Logging);
builder.UseOrleansClient(client => client
    .UseLocalhostClustering(silos.GatewayPorts)
    .UseReplicatedGrains());
builder.Services.AddHealthChecks().AddCheck<ReplicationHealthCheck>("replication");
var app = builder.Build();
app.MapHealthChecks("/health");

app.MapGet("/kv/{key}", async (string key, IClusterClient orleans) =>
{
    var entry = await orleans.GetGrain<IEntryGrain>(key).Get();
    return entry.Value is null ? Results.NotFound() : Results.Ok(new { key, entry.Value, entry.Version });
});
app.MapPut("/kv/{key}", async (string key, HttpRequest request, IClusterClient orleans) =>
{
    string value = await new StreamReader(request.Body).ReadToEndAsync();
    long version = await orleans.GetGrain<IEntryGrain>(key).Put(value);
    return Results.Ok(new { key, value, version });
});
app.MapPost("/kv/{key}/cas", async (string key, string? expected, HttpRequest request, IClusterClient orleans) =>
{
    string value = await new StreamReader(request.Body).ReadToEndAsync();
    bool swapped = await orleans.GetGrain<IEntryGrain>(key).CompareAndSet(expected, value);
    return swapped ? Results.Ok(new { key, value }) : Results.Conflict(new { key, error = "current value differs from 'expected'" });
});
app.MapDelete("/kv/{key}", async (string key, IClusterClient orleans) =>
    await orleans.GetGrain<IEntryGrain>(key).Delete() ? Results.NoContent() : Results.NotFound());

// Announced only once the server listens, with the port it actually bound.
await app.StartAsync();
string url = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
Console.WriteLine($"Replicated key-value store on {url}/kv/{{key}}, health on {url}/health (data in {dataRoot}); Ctrl+C to stop.");
await app.WaitForShutdownAsync();
await app.StopAsync();
Console.WriteLine("Stopped.");
return 0;

static int Fail(string problem)
{
    Console.Error.WriteLine($"KeyValue: {problem}. Usage: KeyValue [DATA_DIR] [--port N]");
    return 2;
}

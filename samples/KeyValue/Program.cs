using OpenReplica.Orleans;
using OpenReplica.Samples.KeyValue;

// A replicated key-value store: three silos in this process, an HTTP API in front.
//   dotnet run --project samples/KeyValue            (then: curl -X PUT localhost:5080/kv/a -d hello; curl localhost:5080/kv/a)
string dataRoot = args.Length > 0 ? args[0] : Path.Combine(Path.GetTempPath(), "openreplica-keyvalue");
var silos = await Silos.StartAsync(dataRoot);

var builder = WebApplication.CreateBuilder(args);
builder.WebHost.UseUrls("http://127.0.0.1:5080");
builder.Logging.SetMinimumLevel(LogLevel.Warning);
builder.UseOrleansClient(client => client
    .UseLocalhostClustering(Enumerable.Range(0, Silos.Count).Select(i => Silos.GatewayPortBase + i).ToArray())
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

Console.WriteLine($"Replicated key-value store on http://127.0.0.1:5080/kv/{{key}} (data in {dataRoot}); Ctrl+C to stop.");
await app.RunAsync();
foreach (var silo in silos) await silo.StopAsync();

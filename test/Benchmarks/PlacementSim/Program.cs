using System.CommandLine;
using OpenReplica.PlacementSim;

// A deterministic simulation of replica placement (no Orleans, no network): see SimDay. Writes a Markdown report.
var silos = new Option<int>("--silos") { Description = "Silos at the start of the day", DefaultValueFactory = _ => 1000 };
var grains = new Option<long>("--grains") { Description = "Grains in the cluster", DefaultValueFactory = _ => 10_000_000 };
var sample = new Option<int>("--sample") { Description = "Grains simulated one by one (each stands for grains/sample); equal to --grains for an exact run", DefaultValueFactory = _ => 1_000_000 };
var domains = new Option<int>("--domains") { Description = "Fault domains (racks)", DefaultValueFactory = _ => 20 };
var replicas = new Option<int>("--replicas") { Description = "Replicas per group (3, 5 or 7)", DefaultValueFactory = _ => 3 };
var seed = new Option<ulong>("--seed") { Description = "Seed of the run", DefaultValueFactory = _ => 1 };
var hours = new Option<int>("--hours") { Description = "Length of the simulated day", DefaultValueFactory = _ => 24 };
var events = new Option<int>("--events-per-hour") { Description = "Roster changes per hour (joins, graceful leaves, crashes)", DefaultValueFactory = _ => 6 };
var bandwidth = new Option<double>("--bandwidth-mbps") { Description = "Bandwidth per silo for re-replication, MB/s", DefaultValueFactory = _ => 100 };
var groupBytes = new Option<int>("--group-bytes") { Description = "Bytes copied per group moved (snapshot + log tail)", DefaultValueFactory = _ => 64 * 1024 };
var outputPath = new Option<string?>("--output") { Description = "Write the Markdown report here as well" };

var root = new RootCommand("Simulates a day of replica placement: spread, moves per roster change, rack failure.")
{
    silos, grains, sample, domains, replicas, seed, hours, events, bandwidth, groupBytes, outputPath,
};
root.SetAction(parse =>
{
    var settings = new SimSettings(parse.GetValue(silos), parse.GetValue(grains), parse.GetValue(sample), parse.GetValue(domains),
        parse.GetValue(replicas), parse.GetValue(seed), parse.GetValue(hours), parse.GetValue(events), parse.GetValue(bandwidth), parse.GetValue(groupBytes));
    var report = new StringWriter();
    try
    {
        new SimDay(settings, report).Run();
    }
    catch (ArgumentException e)
    {
        Console.Error.WriteLine(e.Message);
        return 2;
    }
    Console.Write(report.ToString());
    if (parse.GetValue(outputPath) is { } path) File.WriteAllText(path, report.ToString());
    return 0;
});
return root.Parse(args).Invoke();

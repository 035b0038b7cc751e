using System.CommandLine;
using System.Diagnostics;
using OpenReplica.Consensus;
using OpenReplica.Simulation;

var seedsOption = new Option<int>("--seeds") { Description = "How many seeds to run.", DefaultValueFactory = _ => 100 };
var firstSeedOption = new Option<ulong>("--first-seed") { Description = "The first seed.", DefaultValueFactory = _ => 1 };
var seedOption = new Option<ulong?>("--seed") { Description = "Run this one seed (replays bit-for-bit)." };
var traceOption = new Option<bool>("--trace") { Description = "Print every message and state change of the run." };
var dumpOption = new Option<string?>("--dump-history") { Description = "With --seed: write the clients' history as JSON lines to this file." };
var bugOption = new Option<PlantedBug>("--plant") { Description = "Plant a known bug in the core (the simulator must catch it).", DefaultValueFactory = _ => PlantedBug.None };

var root = new RootCommand("Deterministic simulator for the OpenReplica Multi-Paxos core.")
{
    seedsOption, firstSeedOption, seedOption, traceOption, bugOption, dumpOption,
};
root.SetAction(parse =>
{
    var bug = parse.GetValue(bugOption);
    if (parse.GetValue(seedOption) is { } one)
    {
        Action<string>? trace = parse.GetValue(traceOption) ? Console.WriteLine : null;
        var simulation = new Simulation(one, bug, trace);
        var result = simulation.Run();
        if (parse.GetValue(dumpOption) is { } path)
        {
            using var writer = new OpenReplica.Checker.HistoryWriter(path);
            writer.WriteAll(simulation.FinalHistory());
        }
        Console.WriteLine(result.Passed
            ? $"seed {one}: passed ({result.CommandsCommitted} commands, {result.FaultsInjected} faults) [{result.Faults}]"
            : $"seed {one}: FAILED {result.Failure!.Message} [{result.Faults}]");
        return result.Passed ? 0 : 1;
    }
    return SeedRunner.RunMany(parse.GetValue(firstSeedOption), parse.GetValue(seedsOption), bug, Console.Out, progress: Console.Error);
});
return root.Parse(args).Invoke();

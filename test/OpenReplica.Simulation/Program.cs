using System.CommandLine;
using System.Diagnostics;
using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using OpenReplica.Simulation;
using OpenReplica.Simulation.Engine;

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

// The engine simulator: several silos' replication engines, WALs on simulated disks, grain sessions (docs/determinism.md).
var engineSeeds = new Option<int>("--seeds") { Description = "How many seeds to run.", DefaultValueFactory = _ => 300 };
var engineFirst = new Option<ulong>("--first-seed") { Description = "The first seed.", DefaultValueFactory = _ => 1 };
var engineSeed = new Option<ulong?>("--seed") { Description = "Run this one seed (replays exactly)." };
var engineTrace = new Option<bool>("--trace") { Description = "Print every batch, activation, fault and engine log line of the run." };
var engineSafety = new Option<long>("--safety-ms") { Description = "Simulated milliseconds of faults per seed (the CI sweep uses 2500).", DefaultValueFactory = _ => EngineSimulation.SafetyPhaseTime };
var engineBug = new Option<EngineBug>("--plant") { Description = "Plant a known engine bug (the simulator must catch it).", DefaultValueFactory = _ => EngineBug.None };
var engine = new System.CommandLine.Command("engine", "Simulate several silos' replication engines (engine, WAL, grain sessions) under faults.")
{
    engineSeeds, engineFirst, engineSeed, engineTrace, engineBug, engineSafety,
};
engine.SetAction(parse =>
{
    var bug = parse.GetValue(engineBug);
    if (parse.GetValue(engineSeed) is { } one)
    {
        Action<string>? trace = parse.GetValue(engineTrace) ? Console.WriteLine : null;
        var result = EngineSimulation.Run(one, bug, trace, parse.GetValue(engineSafety));
        Console.WriteLine(result.Passed
            ? $"engine seed {one}: passed ({result.Operations} operations, {result.FaultsInjected} faults, {result.GroupsEvicted} evictions, {result.GroupsRebuilt} rebuilds" +
              (result.ConfigChanges == 0 ? "" : $", {result.ConfigChanges} configuration changes, {result.ReAdds} members added back, {result.Decommissions} silos stopped for good, {result.LateDrops} late drops ({result.LateDropsRefused} refused)") + $") [{result.Faults}]"
            : $"engine seed {one}: FAILED {result.Failure!.Message} [{result.Faults}]");
        return result.Passed ? 0 : 1;
    }
    return EngineSeedRunner.RunMany(parse.GetValue(engineFirst), parse.GetValue(engineSeeds), bug, parse.GetValue(engineSafety), Console.Out);
});
root.Subcommands.Add(engine);
return root.Parse(args).Invoke();

using System.Diagnostics;
using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>Runs a range of seeds (in parallel: each seed is its own single-threaded world) and summarizes.</summary>
public static class SeedRunner
{
    public static SimulationResult[] RunSeeds(ulong firstSeed, int count, PlantedBug bug = PlantedBug.None)
    {
        var results = new SimulationResult[count];
        // One world per core: oversubscribing only slows each run (and its checker's time budget) down.
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount };
        Parallel.For(0, count, parallel, i => results[i] = Simulation.Run(firstSeed + (ulong)i, bug));
        return results;
    }

    public static int RunMany(ulong firstSeed, int count, PlantedBug bug, TextWriter output)
    {
        var watch = Stopwatch.StartNew();
        var results = RunSeeds(firstSeed, count, bug);
        foreach (var failed in results.Where(r => !r.Passed)) output.WriteLine(DescribeFailure(failed, bug));
        int failures = results.Count(r => !r.Passed);
        output.WriteLine($"seeds run: {count}, failed: {failures}, commands committed: {results.Sum(r => r.CommandsCommitted)}, " +
            $"operations: {results.Sum(r => r.Operations)}, faults injected: {results.Sum(r => r.FaultsInjected)}, " +
            $"messages: {results.Sum(r => r.MessagesDelivered)}, wall time: {watch.Elapsed.TotalSeconds:F1}s");
        return failures == 0 ? 0 : 1;
    }

    public static string DescribeFailure(SimulationResult failed, PlantedBug bug = PlantedBug.None) =>
        $"seed {failed.Seed} FAILED [{failed.Failure!.Invariant}] {failed.Failure.Detail}\n" +
        $"  replay: dotnet run -c Release --project test/OpenReplica.Simulation -- --seed {failed.Seed} --trace" +
        (bug == PlantedBug.None ? "" : $" --plant {bug}");
}

using System.Diagnostics;
using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>Runs a range of seeds (in parallel: each seed is its own single-threaded world) and summarizes.</summary>
public static class SeedRunner
{
    /// <summary>Progress lines while many seeds run: about this many over the whole run.</summary>
    public const int ProgressLines = 20;

    public static SimulationResult[] RunSeeds(ulong firstSeed, int count, PlantedBug bug = PlantedBug.None, Action<SimulationResult>? onSeedDone = null)
    {
        var results = new SimulationResult[count];
        // One world per core: oversubscribing only slows each run (and its checker's time budget) down.
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount };
        Parallel.For(0, count, parallel, i =>
        {
            results[i] = Simulation.Run(firstSeed + (ulong)i, bug);
            onSeedDone?.Invoke(results[i]);
        });
        return results;
    }

    /// <summary>
    /// Runs the seeds and writes the summary (and each failure with its replay command) to <paramref name="output"/>;
    /// while they run, a line every <c>count / </c><see cref="ProgressLines"/> seeds goes to <paramref name="progress"/>
    /// (seeds done, failures so far, elapsed and estimated remaining time), so a long run shows it is alive.
    /// </summary>
    public static int RunMany(ulong firstSeed, int count, PlantedBug bug, TextWriter output, TextWriter? progress = null)
    {
        var watch = Stopwatch.StartNew();
        int every = Math.Max(1, count / ProgressLines), done = 0, failedSoFar = 0;
        var gate = new Lock();
        var results = RunSeeds(firstSeed, count, bug, result =>
        {
            if (progress is null) return;
            lock (gate)
            {
                done++;
                if (!result.Passed) failedSoFar++;
                if (done % every != 0 && done != count) return;
                double elapsed = watch.Elapsed.TotalSeconds;
                double left = elapsed / done * (count - done);
                progress.WriteLine($"  {done}/{count} seeds ({100.0 * done / count:F0}%), {failedSoFar} failed, {elapsed:F1}s elapsed, ~{left:F0}s left");
            }
        });
        foreach (var failed in results.Where(r => !r.Passed)) output.WriteLine(DescribeFailure(failed, bug));
        int failures = results.Count(r => !r.Passed);
        output.WriteLine($"seeds run: {count}, failed: {failures}, commands committed: {results.Sum(r => r.CommandsCommitted)}, " +
            $"operations: {results.Sum(r => r.Operations)}, faults injected: {results.Sum(r => r.FaultsInjected)}, " +
            $"messages: {results.Sum(r => r.MessagesDelivered)}, members added back: {results.Sum(r => r.ReAdds)}, late drops: {results.Sum(r => r.LateDrops)}, wall time: {watch.Elapsed.TotalSeconds:F1}s");
        return failures == 0 ? 0 : 1;
    }

    public static string DescribeFailure(SimulationResult failed, PlantedBug bug = PlantedBug.None) =>
        $"seed {failed.Seed} FAILED [{failed.Failure!.Invariant}] {failed.Failure.Detail}\n" +
        $"  replay: dotnet run -c Release --project test/OpenReplica.Simulation -- --seed {failed.Seed} --trace" +
        (bug == PlantedBug.None ? "" : $" --plant {bug}");
}

using System.Diagnostics;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Simulation.Engine;

/// <summary>Runs a range of engine seeds (in parallel: each seed is its own single-threaded world) and summarizes.</summary>
internal static class EngineSeedRunner
{
    public static EngineSimulationResult[] RunSeeds(ulong firstSeed, int count, EngineBug bug = EngineBug.None, long safetyPhase = EngineSimulation.SafetyPhaseTime)
    {
        var results = new EngineSimulationResult[count];
        var parallel = new ParallelOptions { MaxDegreeOfParallelism = Environment.ProcessorCount };
        Parallel.For(0, count, parallel, i => results[i] = EngineSimulation.Run(firstSeed + (ulong)i, bug, safetyPhase: safetyPhase));
        return results;
    }

    public static int RunMany(ulong firstSeed, int count, EngineBug bug, long safetyPhase, TextWriter output)
    {
        var watch = Stopwatch.StartNew();
        var results = RunSeeds(firstSeed, count, bug, safetyPhase);
        foreach (var failed in results.Where(r => !r.Passed)) output.WriteLine(DescribeFailure(failed, bug, safetyPhase));
        int failures = results.Count(r => !r.Passed);
        output.WriteLine($"engine seeds run: {count}, failed: {failures}, operations: {results.Sum(r => r.Operations)}, " +
            $"faults injected: {results.Sum(r => r.FaultsInjected)}, batches: {results.Sum(r => r.BatchesDelivered)}, " +
            $"engine steps: {results.Sum(r => r.Steps)} ({(double)results.Sum(r => r.GroupSteps) / Math.Max(1, results.Sum(r => r.Steps)):F2} groups/step), " +
            $"groups evicted: {results.Sum(r => r.GroupsEvicted)}, rebuilt: {results.Sum(r => r.GroupsRebuilt)}, " +
            $"replicas holding a snapshot at the end: {results.Sum(r => r.ReplicasCompacted)}, reads under a lease: {results.Sum(r => r.LeaseReads)}, lease renewals held for a round: {results.Sum(r => r.RenewalsHeld)}, " +
            $"configuration changes: {results.Sum(r => r.ConfigChanges)} (members added back: {results.Sum(r => r.ReAdds)}, silos stopped for good: {results.Sum(r => r.Decommissions)}, late drops carried out: {results.Sum(r => r.LateDrops)}, refused: {results.Sum(r => r.LateDropsRefused)}), wall time: {watch.Elapsed.TotalSeconds:F1}s");
        return failures == 0 ? 0 : 1;
    }

    public static string DescribeFailure(EngineSimulationResult failed, EngineBug bug = EngineBug.None, long safetyPhase = EngineSimulation.SafetyPhaseTime) =>
        $"engine seed {failed.Seed} FAILED [{failed.Failure!.Invariant}] {failed.Failure.Detail}\n" +
        $"  replay: dotnet run -c Release --project test/OpenReplica.Simulation -- engine --seed {failed.Seed} --trace" +
        (bug == EngineBug.None ? "" : $" --plant {bug}") +
        (safetyPhase == EngineSimulation.SafetyPhaseTime ? "" : $" --safety-ms {safetyPhase}");
}

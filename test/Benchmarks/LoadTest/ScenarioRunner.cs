using Spectre.Console;

namespace OpenReplica.LoadTest;

/// <summary>Runs one scenario's cells (see <see cref="CellPlan"/>) against its targets, within the run's time budget.</summary>
internal sealed class ScenarioRunner(ProgressContext progress, Settings settings, RunReport report, TimeBudget budget)
{
    /// <param name="targetFor">The grains (keys) for a grain count: 1 is the hot grain.</param>
    /// <param name="consensusMessages">The system's consensus message counters (<see cref="Runner.NoMessages"/> if none).</param>
    public async Task RunAsync(Scenario scenario, Func<int, ILoadTarget> targetFor, Func<Task<ConsensusTraffic>> consensusMessages)
    {
        string name = Scenarios.Name(scenario);
        foreach (var group in CellPlan.For(scenario, settings))
        {
            if (!budget.Fits(settings.CellCost))
            {
                budget.Skip(group.Cells.Count);
                continue;
            }
            var target = targetFor(group.Grains);
            if (group.Activate) await ActivateAsync(scenario, name, target);
            for (int i = 0; i < group.Cells.Count; i++)
            {
                if (!budget.Fits(settings.CellCost))
                {
                    budget.Skip(group.Cells.Count - i);
                    break;
                }
                var spec = group.Cells[i];
                var task = progress.AddTask(Markup.Escape(spec.Name), maxValue: 1);
                var result = await Runner.RunAsync(spec, target, settings.Warmup, settings.Duration, consensusMessages, p => task.Value = p);
                task.Description = Markup.Escape($"{spec.Name}: {result.Throughput:N0}/s p99 {result.P99Ms:0.0} ms");
                report.Cells.Add(result);
            }
        }
    }

    private async Task ActivateAsync(Scenario scenario, string name, ILoadTarget target)
    {
        var bound = TimeSpan.FromSeconds(settings.Quick ? 20 : 45);
        // Grains are activated by a read (an activation loads its state; a write would add a storage round trip per
        // grain); etcd keys are created by a put, so that the read cells find them.
        var (call, what, done) = scenario == Scenario.Etcd ? (Workload.Write, "key", "putting") : (Workload.Read, "grain", "activating (one read each)");
        var task = progress.AddTask(Markup.Escape($"{name}: {done} {target.Count:N0} {what}(s)"), maxValue: 1);
        var took = await Runner.ActivateAsync(target, bound, call);
        task.Description = Markup.Escape($"{name}: {done} {target.Count:N0} {what}(s) took {took.TotalSeconds:0.0} s");
        task.Value = 1;
        if (scenario != Scenario.Plain && target.Count > 1)
        {
            report.Notes.Add($"{name}: {done} the {target.Count:N0} {what}s before the spread cells ({Runner.ActivationConcurrency} at a time) took {took.TotalSeconds:0.0} s (bounded at {bound.TotalSeconds:0} s).");
        }
    }
}

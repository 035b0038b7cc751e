namespace OpenReplica.LoadTest;

/// <summary>Cells that share a set of grains (keys): written once first when <see cref="Activate"/>, then measured in order.</summary>
internal sealed record CellGroup(int Grains, bool Activate, IReadOnlyList<CellSpec> Cells);

/// <summary>
/// Which cells a scenario runs. The hot grain first (only it is active), then the spread; then, for replicated grains
/// on full runs, the hot grain again with the spread's grains idle (the cost of idle activations). Quick runs measure
/// the hot grain at the target's caller count only; the factor-5 cluster gives one data point (writes at that count).
/// </summary>
internal static class CellPlan
{
    /// <summary>The caller count the targets are stated at.</summary>
    public const int TargetCallers = 64;

    public static int AnchorCallers(Settings s) => s.Callers.Contains(TargetCallers) ? TargetCallers : s.Callers.Max();

    public static IReadOnlyList<CellGroup> For(Scenario scenario, Settings s)
    {
        int anchor = AnchorCallers(s);
        if (s.SpreadWritesOnly || s.SpreadReadsOnly)
        {
            // --spread-writes / --spread-reads: one of the targets only (short before/after runs of a change);
            // the grains are written once first either way. --spread-writes wins when both are given.
            var workload = s.SpreadWritesOnly ? Workload.Write : Workload.Read;
            return [new CellGroup(s.Grains, true, [.. s.Callers.Select(c => new CellSpec(scenario, workload, c, s.Grains))])];
        }
        if (scenario == Scenario.Persisted5)
        {
            return
            [
                new CellGroup(1, true, [new CellSpec(scenario, Workload.Write, anchor, 1)]),
                new CellGroup(s.Grains, true, [new CellSpec(scenario, Workload.Write, anchor, s.Grains)]),
            ];
        }
        int[] hotCallers = s.Quick ? [anchor] : s.Callers;
        var groups = new List<CellGroup>
        {
            new(1, true, Cells(scenario, hotCallers, 1)),
            new(s.Grains, true, Cells(scenario, s.Callers, s.Grains)),
        };
        if (!s.Quick && scenario is Scenario.Volatile or Scenario.Persisted)
        {
            groups.Add(new CellGroup(1, false, Cells(scenario, [anchor], 1, idle: s.Grains)));
        }
        return groups;
    }

    /// <summary>Writes, then reads; the targets' caller count first in each, so a run short of time keeps the cells the targets need.</summary>
    private static CellSpec[] Cells(Scenario scenario, int[] callers, int grains, int idle = 0)
    {
        var ordered = callers.OrderBy(c => c == TargetCallers ? 0 : 1).ThenBy(c => c).ToArray();
        return [.. new[] { Workload.Write, Workload.Read }.SelectMany(w => ordered.Select(c => new CellSpec(scenario, w, c, grains, idle)))];
    }
}

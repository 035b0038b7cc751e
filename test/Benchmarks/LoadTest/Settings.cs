namespace OpenReplica.LoadTest;

internal sealed record Settings(
    bool Quick,
    TimeSpan Duration,
    TimeSpan Warmup,
    int Grains,
    int[] Callers,
    string? DocPath,
    string? ChartPath,
    bool Failover,
    HashSet<string>? Only,
    bool KeepTemp,
    TimeSpan Budget,
    TimeSpan Lease,
    string Command,
    bool SpreadWritesOnly = false,
    long? LogMemoryBudgetMb = null,
    bool SpreadReadsOnly = false,
    int? AcceptSpares = null)
{
    public bool Runs(Scenario s) => Only is null || Only.Contains(Scenarios.Key(s));

    /// <summary>What one cell costs in wall time (warm-up, window, the drain of calls in flight and the bookkeeping).</summary>
    public TimeSpan CellCost => Warmup + Duration + TimeSpan.FromSeconds(0.5);

    public static string RepoRoot()
    {
        foreach (var start in new[] { Directory.GetCurrentDirectory(), AppContext.BaseDirectory })
        {
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
            {
                if (File.Exists(Path.Combine(dir.FullName, "OpenReplica.sln"))) return dir.FullName;
            }
        }
        return Directory.GetCurrentDirectory();
    }
}

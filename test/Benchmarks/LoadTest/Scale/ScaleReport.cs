using System.Globalization;
using System.Text;

namespace OpenReplica.LoadTest.Scale;

/// <summary>The results of a scale run, rendered as the markdown section of docs/benchmarks.md.</summary>
internal sealed class ScaleReport(ScaleSettings settings, DateTimeOffset started, string loadAverageStart) : SectionReport
{
    public List<IdleMemoryResult> Idle { get; } = [];
    public List<ReactivationResult> Reactivation { get; } = [];

    public IdleMemoryResult? Plain => Idle.FirstOrDefault(r => r.Label.Contains("plain", StringComparison.Ordinal));

    public IdleMemoryResult? Persisted => Idle.FirstOrDefault(r => r.Label.Contains("Persisted", StringComparison.Ordinal));

    public static string N(double v, string format = "N0") => double.IsNaN(v) ? "–" : v.ToString(format, CultureInfo.InvariantCulture);

    public string Markdown()
    {
        var sb = new StringBuilder();
        sb.AppendLine("## Scale: idle replicated grains and reactivation (`scale`)");
        sb.AppendLine();
        sb.AppendLine("    dotnet run -c Release --project test/Benchmarks/LoadTest -- scale           # 100,000 grains, 100,000-entry log, ~5 minutes on a quiet machine (bounded at 10), rewrites this section");
        sb.AppendLine("    dotnet run -c Release --project test/Benchmarks/LoadTest -- scale --quick   # 10,000 grains, 20,000-entry log, ~1 minute on a quiet machine (bounded at 3), stdout only (add --doc docs/benchmarks.md to write)");
        sb.AppendLine("    # options: --grains, --log-entries, --repetitions, --volatile-grains (default min(grains, 10,000); 0 skips), --only idle,reactivation,replay, --keep-temp, --no-doc");
        sb.AppendLine();
        SectionRun.AppendHeader(sb, started, settings.Command, settings.Quick, $"{Elapsed.TotalSeconds:0} s", loadAverageStart, LoadAverageEnd);
        sb.Append(IdleTable());
        sb.AppendLine();
        sb.Append(ReactivationTable());
        sb.AppendLine();
        sb.Append(IdleGrainTarget.Markdown(this));
        SectionRun.AppendNotes(sb, Notes);
        return sb.ToString();
    }

    private string IdleTable()
    {
        var sb = new StringBuilder();
        sb.AppendLine("### Memory and disk per idle grain");
        sb.AppendLine();
        sb.AppendLine("The 3-silo in-process cluster of the load test (replication factor 3, so every replicated grain has a replica on each silo). " +
            "Each fleet: new grains get one `Increment()` each (64 concurrent callers), the managed heap is weighed with them active, " +
            "then `IManagementGrain.ForceActivationCollection(TimeSpan.Zero)` is repeated until the silos report no activation of the class, and heap and disk are weighed again. " +
            "Heap = `GC.GetTotalMemory` after two full blocking compacting collections (LOH compacted), for the whole process (3 silos + the client): " +
            "a fleet's bytes per grain = (heap after − heap before the fleet) / grains activated (creation is bounded in time; `activations seen` is what the silos reported). " +
            "Plain and Persisted share one cluster (plain first, its idle grains stay in the baseline of the Persisted fleet); the Volatile fleet's baseline is weighed only once the Persisted cluster's replica groups have been garbage collected; " +
            $"Volatile runs on its own cluster, with at most 10,000 grains by default (its creation is as slow as Persisted's and the run is kept near 5 minutes; bytes per grain barely depend on the count). {WarmUpNote} `disk` = growth of the silos' data directories (WAL segments, snapshots) / grains. " +
            "`groups held` = consensus groups in the silos' engines (`ReplicationRuntime.GroupCount`, 3 silos together, read by reflection) after the fleet deactivated and the idle period passed " +
            $"(the tool waits, bounded at `IdleGroupEvictionAfter` + 30 s = {(OpenReplica.Orleans.ReplicatedGrainsOptions.DefaultIdleGroupEvictionAfter + TimeSpan.FromSeconds(30)).TotalSeconds:0} s, until at most 1 % of the fleet's groups are left), with the change since before the fleet; " +
            "`WAL index resident` = groups whose WAL retention state is in memory (`WriteAheadLog.ResidentGroups`, 3 silos; the rest are found on disk through the segments' index files when needed); " +
            "`idle CPU` = the process over 2 s with no calls, after the fleet deactivated.");
        sb.AppendLine();
        sb.AppendLine("| Fleet | grains | activations seen | create s | deactivate s | left active | heap/grain active | heap/grain idle | disk/grain | groups held (3 silos) | WAL index resident (3 silos) | idle CPU % | consensus msgs/s idle |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|");
        foreach (var r in Idle)
        {
            sb.AppendLine($"| {r.Label} | {r.Grains:N0} | {r.ActivatedSeen:N0} | {N(r.CreateTook.TotalSeconds, "0.0")} | {N(r.DeactivateTook.TotalSeconds, "0.0")} | {r.LeftActive:N0} " +
                $"| {N(r.ActiveBytesPerGrain)} B | **{N(r.IdleBytesPerGrain)} B** | {N(r.DiskBytesPerGrain)} B | {(r.GroupsIdle is { } g ? $"{g:N0} ({r.GroupsAdded:+#,0;−#,0;±0})" : "–")} " +
                $"| {(r.WalResidentIdle is { } w ? $"{w:N0}" : "–")} | {N(r.IdleCpuPercent, "0")} | {N(r.IdleMessagesPerSecond)} |");
        }
        return sb.ToString();
    }

    private const string WarmUpNote = "Before the baseline, 200 grains of each class are activated and collected (JIT, type caches and pools are not per-grain costs).";

    private string ReactivationTable()
    {
        var sb = new StringBuilder();
        sb.AppendLine($"### Reactivating a grain with a {settings.LogEntries:N0}-entry log (Persisted)");
        sb.AppendLine();
        sb.AppendLine($"One `ReplicatedGrain` on a fresh Persisted cluster per row, written by 64 closed-loop callers until its log holds {settings.LogEntries:N0} entries (writes; " +
            "batching packs several into one consensus slot, `slots` is how many the log used). Then, " + $"{settings.Repetitions} times: force its deactivation (as above), " +
            $"wait until its group has left the memory of all 3 silos (these clusters evict idle groups after {ReactivationProbe.EvictAfter.TotalSeconds:0} s; the engines' eviction counters say when), " +
            "and time the first call (`[ReadOnly] Read()`, client side): the group is rebuilt from the WAL on each silo the call reaches (the WAL finds the group's records through the segments' index files, " +
            "then the core restarts from the snapshot and the log above it), the grain activates, campaigns and replays before answering. " +
            "The counter is checked after each reactivation. `SnapshotEveryCommands` is a silo option, so each row has its own cluster; \"snapshots off\" sets it to `int.MaxValue`, " +
            "so replay runs every write since the start.");
        sb.AppendLine();
        sb.AppendLine("| Snapshots | entries (writes) | slots | writing took s | data dirs MB | first call after deactivation: median ms | min ms | max ms | repetitions | check |");
        sb.AppendLine("|---|---:|---:|---:|---:|---:|---:|---:|---:|---|");
        foreach (var r in Reactivation)
        {
            sb.AppendLine($"| {r.Label} | {r.Writes:N0} | {r.Slots:N0} | {N(r.WriteTook.TotalSeconds, "0.0")} | {N(r.DiskBytes / 1048576.0, "0.0")} " +
                $"| **{N(r.MedianMs, "0.0")}** | {N(r.MinMs, "0.0")} | {N(r.MaxMs, "0.0")} | {r.FirstCallMs.Count} | {r.Problem ?? "counter intact"} |");
        }
        return sb.ToString();
    }
}

using OpenReplica.Storage;

namespace OpenReplica.Benchmarks;

/// <summary>
/// Heap the write-ahead log keeps per idle group (its in-memory index): N groups each get what a grain written once
/// leaves on a replica (a promise, <c>--entries</c> accepted entries, a commit), then the managed heap is weighed
/// with the groups resident (just written), after every group is released (what the engine does when it evicts an
/// idle group), and after the log is reopened (recovery leaves no group resident). Records still in the head
/// segment are indexed in memory until it is sealed; <c>--segment-kb</c> picks the segment size (default 64 MiB,
/// the WAL's). Not a BenchmarkDotNet benchmark: it measures retained bytes, not time.
///   dotnet run -c Release --project test/Benchmarks/Micro -- wal-index-memory [--groups 20000] [--entries 1] [--segment-kb 65536]
/// </summary>
internal static class WalIndexMemory
{
    public static async Task RunAsync(string[] args)
    {
        int groups = Arg(args, "--groups", 20_000);
        int entries = Arg(args, "--entries", 1);
        long segmentBytes = Arg(args, "--segment-kb", 64 * 1024) * 1024L;
        using var scratch = new ScratchDirectory("walindex");
        string directory = scratch.Path;
        long baseline = Weigh();
        var options = new WalOptions { Directory = directory, SegmentBytes = segmentBytes };
        var log = WriteAheadLog.Open(options);
        long empty = Weigh();
        var payload = new byte[32];
        for (int g = 0; g < groups; g++)
        {
            string id = $"3|replicatedgrain/key-{g:D8}";
            var records = new List<WalRecord> { new(id, WalRecordKind.HardState, 0, 1, 1, payload) };
            for (int e = 1; e <= entries; e++) records.Add(new WalRecord(id, WalRecordKind.Accept, e, 1, 1, payload));
            records.Add(new WalRecord(id, WalRecordKind.HardState, entries, 1, 1, payload));
            await log.AppendAsync(records);
        }
        await log.CompactAsync(); // reclaim what can be: the steady state of an idle silo
        long running = Weigh();
        int residentRunning = log.ResidentGroups;
        for (int g = 0; g < groups; g++) log.ReleaseGroup($"3|replicatedgrain/key-{g:D8}");
        long released = Weigh();
        int residentReleased = log.ResidentGroups;
        int segments = log.SegmentPaths().Count;
        GC.KeepAlive(log);
        await log.DisposeAsync();
        log = null!;
        long closed = Weigh();
        var reopened = WriteAheadLog.Open(options);
        long recovered = Weigh();
        int residentRecovered = reopened.ResidentGroups;
        GC.KeepAlive(reopened);
        await reopened.DisposeAsync();
        Console.WriteLine($"groups {groups:N0}, accepted entries per group {entries}, records per group {entries + 2}, segments of {segmentBytes / 1024:N0} KB: {segments:N0}");
        Console.WriteLine($"running log, groups resident: {(running - empty) / (double)groups:F0} B per group ({residentRunning:N0} resident)");
        Console.WriteLine($"running log, every group released: {(released - empty) / (double)groups:F0} B per idle group ({residentReleased:N0} resident)");
        Console.WriteLine($"reopened log (recovery): {(recovered - closed) / (double)groups:F0} B per idle group ({residentRecovered:N0} resident)");
        Console.WriteLine($"(baseline heap {baseline / 1024} KB)");
    }

    private static long Weigh()
    {
        for (int i = 0; i < 2; i++)
        {
            GC.Collect(GC.MaxGeneration, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        return GC.GetTotalMemory(forceFullCollection: true);
    }

    private static int Arg(string[] args, string name, int fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length && int.TryParse(args[i + 1], out int value) && value > 0
            ? value
            : fallback;
    }
}

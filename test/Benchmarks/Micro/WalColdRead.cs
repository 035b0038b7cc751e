using System.Diagnostics;
using OpenReplica.Storage;

namespace OpenReplica.Benchmarks;

/// <summary>
/// The WAL's share of rebuilding an evicted group: one group with a long log (2,600 slots of 16 KiB, what the scale
/// tool's 100,000-entry grain writes, snapshot every 100 slots) among 20,000 groups written once; the group is
/// released (as the engine does when it evicts it), then its records and snapshot are read back cold, 7 times.
///   dotnet run -c Release --project test/Benchmarks/Micro -- wal-cold-read
/// </summary>
internal static class WalColdRead
{
    public static async Task RunAsync()
    {
        using var scratch = new ScratchDirectory("walcold");
        string directory = scratch.Path;
        var log = WriteAheadLog.Open(new WalOptions { Directory = directory });
        var payload = new byte[16 * 1024];
        const string group = "3|replayprobe/replay-4096";
        for (int slot = 1; slot <= 2_600; slot++)
        {
            await log.AppendAsync([new WalRecord(group, WalRecordKind.Accept, slot, 1, 1, payload), new WalRecord(group, WalRecordKind.HardState, slot, 1, 1, payload.AsMemory(0, 64))]);
            if (slot % 100 == 0) await log.SaveSnapshotAsync(group, slot - 10, new byte[4096]);
        }
        for (int g = 0; g < 20_000; g++) await log.AppendAsync(new WalRecord($"3|counter/key-{g}", WalRecordKind.Accept, 1, 1, 1, payload.AsMemory(0, 32)));

        var times = new List<double>();
        int records = 0;
        for (int r = 0; r < 7; r++)
        {
            log.ReleaseGroup(group);
            var sw = Stopwatch.StartNew();
            records = log.ReadAll(group).Count();
            _ = log.LoadSnapshot(group);
            times.Add(sw.Elapsed.TotalMilliseconds);
        }
        Console.WriteLine($"cold read of a released group ({records} retained records, snapshot, {log.SegmentPaths().Count} segment(s)), ms: " +
            string.Join(", ", times.Select(t => t.ToString("0.00", System.Globalization.CultureInfo.InvariantCulture))) + " (the first includes JIT)");
        await log.DisposeAsync();
    }
}

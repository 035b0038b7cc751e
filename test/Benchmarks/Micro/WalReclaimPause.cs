using System.Diagnostics;
using System.Globalization;
using OpenReplica.Storage;

namespace OpenReplica.Benchmarks;

/// <summary>
/// How long the WAL's writer stops appending while it reclaims segments: 1,000 groups write small accepts and hard
/// states (as spread writes do) until a few segments are sealed; then half of the groups snapshot at their latest
/// slot, which leaves the sealed segments about half live, and an appender measures each append's latency while the
/// writer reclaims them in the background.
///   dotnet run -c Release --project test/Benchmarks/Micro -- wal-reclaim [--segment-mb 64]
/// </summary>
internal static class WalReclaimPause
{
    private const int Groups = 1_000;

    public static async Task RunAsync(string[] args)
    {
        long segmentMb = args.SkipWhile(a => a != "--segment-mb").Skip(1).Select(long.Parse).FirstOrDefault(64);
        using var scratch = new ScratchDirectory("walreclaim");
        string directory = scratch.Path;
        var log = WriteAheadLog.Open(new WalOptions { Directory = directory, SegmentBytes = segmentMb * 1024 * 1024 });
        var payload = new byte[200];
        var slots = new long[Groups];
        var batch = new List<WalRecord>(128);
        int g = 0;
        var fill = Stopwatch.StartNew();
        while (log.SegmentPaths().Count < 4)
        {
            batch.Clear();
            for (int i = 0; i < 64; i++, g = (g + 1) % Groups)
            {
                long slot = ++slots[g];
                batch.Add(new WalRecord(GroupId(g), WalRecordKind.Accept, slot, 1, 1, payload));
                batch.Add(new WalRecord(GroupId(g), WalRecordKind.HardState, slot, 1, 1, payload.AsMemory(0, 40)));
            }
            await log.AppendAsync(batch);
        }
        Console.WriteLine($"filled {log.SegmentPaths().Count} segments of {segmentMb} MiB in {fill.Elapsed.TotalSeconds:0.0} s");

        using var stop = new CancellationTokenSource();
        var latencies = new List<double>();
        var appender = Task.Run(async () =>
        {
            long slot = 0;
            while (!stop.IsCancellationRequested)
            {
                var sw = Stopwatch.StartNew();
                await log.AppendAsync(new WalRecord("3|probe/p", WalRecordKind.Accept, ++slot, 1, 1, payload));
                latencies.Add(sw.Elapsed.TotalMilliseconds);
            }
        });
        await Task.Delay(1_000);
        int before = latencies.Count;
        for (int i = 0; i < Groups; i += 2) await log.SaveSnapshotAsync(GroupId(i), slots[i], new byte[64]);
        await Task.Delay(5_000);
        await stop.CancelAsync();
        await appender;
        var quiet = latencies.Take(before).Order().ToList();
        var during = latencies.Skip(before).Order().ToList();
        Console.WriteLine($"append latency before the snapshots: p50 {P(quiet, 0.5)} ms, max {P(quiet, 1)} ms ({quiet.Count} appends)");
        Console.WriteLine($"append latency while reclaiming:    p50 {P(during, 0.5)} ms, p99 {P(during, 0.99)} ms, max {P(during, 1)} ms ({during.Count} appends); segments left {log.SegmentPaths().Count}");
        await log.DisposeAsync();
    }

    private static string GroupId(int g) => $"3|counter/key-{g}";

    private static string P(List<double> sorted, double q) =>
        sorted.Count == 0 ? "–" : sorted[Math.Min(sorted.Count - 1, (int)(q * (sorted.Count - 1)))].ToString("0.0", CultureInfo.InvariantCulture);
}

using System.Diagnostics;
using OpenReplica.Storage;

namespace OpenReplica.Benchmarks;

/// <summary>
/// What an engine step pays for many groups' snapshots (Orleans deactivating many grains at once, a log memory budget
/// sweep): 1 KiB snapshots of 512 groups saved one call each (two fsyncs per snapshot: its file and the directory)
/// and then in batches of 64 (one directory fsync per batch), alternately, on the real disk of the temp directory.
///   dotnet run -c Release --project test/Benchmarks/Micro -- wal-snapshots [--rounds 3]
/// </summary>
internal static class WalSnapshotBatch
{
    private const int Groups = 512;
    private const int Batch = 64;

    public static async Task RunAsync(string[] args)
    {
        int rounds = args.SkipWhile(a => a != "--rounds").Skip(1).Select(int.Parse).FirstOrDefault(3);
        using var scratch = new ScratchDirectory("walsnapshots");
        string directory = scratch.Path;
        await using var log = WriteAheadLog.Open(new WalOptions { Directory = directory });
        var data = new byte[1024];
        long slot = 0;
        for (int round = 1; round <= rounds; round++)
        {
            slot++;
            var single = Stopwatch.StartNew();
            for (int g = 0; g < Groups; g++) await log.SaveSnapshotAsync(GroupId(g), slot, data);
            single.Stop();

            slot++;
            var batched = Stopwatch.StartNew();
            for (int g = 0; g < Groups; g += Batch)
            {
                await log.SaveSnapshotsAsync([.. Enumerable.Range(g, Batch).Select(i => new SnapshotSave(GroupId(i), slot, data))]);
            }
            batched.Stop();

            Console.WriteLine($"round {round}: one at a time {Groups / single.Elapsed.TotalSeconds:N0} snapshots/s; " +
                $"in batches of {Batch} {Groups / batched.Elapsed.TotalSeconds:N0} snapshots/s ({single.Elapsed / batched.Elapsed:0.00}x)");
        }
    }

    private static string GroupId(int g) => $"3|snapshot/{g}";
}

using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

public sealed class GroupCommitTests
{
    [Fact]
    public async Task Concurrent_appenders_share_fsyncs()
    {
        // A realistic device latency gives appends time to pile up behind the fsync in progress.
        var fs = new FaultyFileSystem { FsyncDelay = TimeSpan.FromMilliseconds(1) };
        const int appenders = 64;
        const int appendsEach = 40;
        WalOptions options = Logs.Options(fs, segmentBytes: 16L * 1024 * 1024);
        // Index files (written without fsync) would count as writes too: keep the head's index in memory here.
        options.HeadIndexEntries = appenders * appendsEach * 2;
        await using WriteAheadLog wal = WriteAheadLog.Open(options);
        int fsyncsBefore = fs.FileFsyncs;

        await Task.WhenAll(Enumerable.Range(0, appenders).Select(a => Task.Run(async () =>
        {
            for (int i = 1; i <= appendsEach; i++)
            {
                await wal.AppendAsync(Logs.Accept($"group-{a}", i));
            }
        })));

        int fsyncs = fs.FileFsyncs - fsyncsBefore;
        int appends = appenders * appendsEach;
        Assert.Equal(appends, wal.ReadAll().Count());
        Assert.True(fsyncs * 8 <= appends, $"{fsyncs} fsyncs for {appends} appends: group commit did not batch");
        Assert.True(fs.Writes - 1 <= fsyncs, "one write per batch");
    }

    [Fact]
    public async Task With_batches_of_one_every_append_gets_its_own_fsync()
    {
        var fs = new FaultyFileSystem();
        await using WriteAheadLog wal = WriteAheadLog.Open(Logs.Options(fs, maxBatchRecords: 1));
        int fsyncsBefore = fs.FileFsyncs;
        await Task.WhenAll(Enumerable.Range(0, 16).Select(a => Task.Run(async () =>
        {
            for (int i = 1; i <= 10; i++)
            {
                await wal.AppendAsync(Logs.Accept($"group-{a}", i));
            }
        })));

        Assert.Equal(160, fs.FileFsyncs - fsyncsBefore);
    }

    [Fact]
    public async Task A_full_queue_makes_callers_wait_and_every_append_completes()
    {
        var fs = new FaultyFileSystem { FsyncDelay = TimeSpan.FromMilliseconds(1) };
        WalOptions options = Logs.Options(fs);
        options.QueueCapacity = 2;
        options.MaxBatchRecords = 3;
        await using WriteAheadLog wal = WriteAheadLog.Open(options);

        // Issued without awaiting: most must wait for room in the two-entry queue.
        Task[] appends = Enumerable.Range(1, 100).Select(i => wal.AppendAsync(Logs.Accept("g", i)).AsTask()).ToArray();
        await Task.WhenAll(appends);

        Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), wal.ReadAll().Select(r => r.Slot).Order());
    }
}

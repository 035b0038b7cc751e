using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

public sealed class FailureTests
{
    [Fact]
    public async Task A_failed_fsync_fails_the_append_and_every_later_one()
    {
        var fs = new FaultyFileSystem();
        await using WriteAheadLog wal = Logs.Open(fs);
        CancellationToken ct = TestContext.Current.CancellationToken;
        await wal.AppendAsync(Logs.Accept("g", 1), ct);

        fs.FailFsync = true;
        var failed = await Assert.ThrowsAsync<WalFailedException>(async () => await wal.AppendAsync(Logs.Accept("g", 2), ct));
        Assert.IsType<IOException>(failed.InnerException);
        Assert.False(failed.DiskFull);
        // The device still fails fsyncs, so cutting the batch off could not be made durable: only recovery may reopen.
        Assert.False(failed.TailDiscarded);
        int fsyncs = fs.FileFsyncs;

        // Even once the device "recovers", the log must not acknowledge: pages lost by the failed fsync are unknowable.
        fs.FailFsync = false;
        await Assert.ThrowsAsync<WalFailedException>(async () => await wal.AppendAsync(Logs.Accept("g", 3), ct));
        await Assert.ThrowsAsync<WalFailedException>(async () => await wal.AppendAsync([Logs.Accept("g", 4), Logs.Accept("g", 5)], ct));
        await Assert.ThrowsAsync<WalFailedException>(async () => await wal.DeleteGroupAsync("g", ct));
        await Assert.ThrowsAsync<WalFailedException>(async () => await wal.SaveSnapshotAsync("g", 1, new byte[1], ct));
        Assert.Equal(fsyncs, fs.FileFsyncs); // never fsynced again, least of all over the failed data
    }

    [Fact]
    public async Task Every_append_queued_with_a_failing_batch_fails()
    {
        var fs = new FaultyFileSystem { FsyncDelay = TimeSpan.FromMilliseconds(2) };
        await using WriteAheadLog wal = Logs.Open(fs);
        CancellationToken ct = TestContext.Current.CancellationToken;
        await wal.AppendAsync(Logs.Accept("g", 0), ct);
        fs.FailFsync = true;

        Task[] appends = Enumerable.Range(1, 50).Select(i => wal.AppendAsync(Logs.Accept("g", i), ct).AsTask()).ToArray();
        foreach (Task append in appends)
        {
            await Assert.ThrowsAsync<WalFailedException>(() => append);
        }
    }

    [Fact]
    public async Task A_full_disk_fails_appends_and_recovery_keeps_what_was_acknowledged()
    {
        var fs = new FaultyFileSystem();
        CancellationToken ct = TestContext.Current.CancellationToken;
        var acknowledged = new List<WalRecord>();
        await using (WriteAheadLog wal = Logs.Open(fs))
        {
            for (int i = 1; i <= 5; i++)
            {
                await wal.AppendAsync(Logs.Accept("g", i), ct);
                acknowledged.Add(Logs.Accept("g", i));
            }

            // Room for part of one more record: the write is cut short, then fails.
            int durableLength = fs.ReadFile(Logs.LastSegment(fs)).Length;
            fs.CapacityBytes = durableLength + 30;
            var full = await Assert.ThrowsAsync<WalFailedException>(async () => await wal.AppendAsync(Logs.Accept("g", 6), ct));
            Assert.True(full.DiskFull, full.Message);
            Assert.True(full.TailDiscarded, full.Message);
            Assert.Contains("is full", full.Message);
            Assert.Equal(full, wal.Failure);
            // The short write's bytes were cut off again: no torn record stays behind.
            Assert.Equal(durableLength, fs.ReadFile(Logs.LastSegment(fs)).Length);
            fs.CapacityBytes = null;
            await Assert.ThrowsAsync<WalFailedException>(async () => await wal.AppendAsync(Logs.Accept("g", 7), ct));
        }

        await using (WriteAheadLog reopened = Logs.Open(fs))
        {
            Assert.Equal(Logs.Keys(acknowledged), Logs.Keys(reopened.ReadAll()));
            await reopened.AppendAsync(Logs.Accept("g", 8), ct);
            Assert.Equal(8, reopened.ReadAll().Last().Slot);
        }
    }

    [Fact]
    public async Task A_failed_rotation_fails_the_log()
    {
        var fs = new FaultyFileSystem();
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using WriteAheadLog wal = Logs.Open(fs, segmentBytes: WalOptions.MinSegmentBytes);
        await wal.AppendAsync(Logs.Accept("g", 1, payloadBytes: 2000), ct);
        fs.FailFsync = true;
        // The next record does not fit: the new segment's header fsync fails.
        await Assert.ThrowsAsync<WalFailedException>(async () => await wal.AppendAsync(Logs.Accept("g", 2, payloadBytes: 2500), ct));
        fs.FailFsync = false;
        await Assert.ThrowsAsync<WalFailedException>(async () => await wal.AppendAsync(Logs.Accept("g", 3), ct));
    }

    [Fact]
    public async Task Appending_after_dispose_throws()
    {
        WriteAheadLog wal = Logs.Open(new FaultyFileSystem());
        await wal.DisposeAsync();
        await Assert.ThrowsAsync<ObjectDisposedException>(async () => await wal.AppendAsync(Logs.Accept("g", 1), TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Invalid_records_are_rejected_before_they_reach_the_log()
    {
        await using WriteAheadLog wal = Logs.Open(new FaultyFileSystem(), segmentBytes: WalOptions.MinSegmentBytes);
        Assert.Throws<ArgumentException>(() => { _ = wal.AppendAsync(Logs.Accept("", 1), TestContext.Current.CancellationToken); });
        Assert.Throws<ArgumentException>(() => { _ = wal.AppendAsync(new WalRecord("g", WalRecordKind.GroupDeleted, 0, 0, 0, default), TestContext.Current.CancellationToken); });
        Assert.Throws<ArgumentException>(() => { _ = wal.AppendAsync(new WalRecord("g", (WalRecordKind)99, 0, 0, 0, default), TestContext.Current.CancellationToken); });
        var tooBig = Assert.Throws<ArgumentException>(() => { _ = wal.AppendAsync(Logs.Accept("g", 1, payloadBytes: 5000), TestContext.Current.CancellationToken); });
        Assert.Contains("SegmentBytes", tooBig.Message);
        Assert.Empty(wal.ReadAll());
    }
}

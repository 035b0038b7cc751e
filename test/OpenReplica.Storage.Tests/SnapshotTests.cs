using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

public sealed class SnapshotTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_snapshot_survives_reopen_and_hides_the_records_it_covers()
    {
        var fs = new FaultyFileSystem();
        await using (WriteAheadLog wal = Logs.Open(fs))
        {
            await wal.AppendAsync(Logs.HardState("g", 4), Ct);
            for (int slot = 1; slot <= 10; slot++)
            {
                await wal.AppendAsync(Logs.Accept("g", slot), Ct);
            }

            await wal.SaveSnapshotAsync("g", 6, new byte[] { 6, 6 }, Ct);
            AssertSnapshot(wal, 6, [6, 6]);
            Assert.Equal(Logs.Keys([Logs.HardState("g", 4), .. Enumerable.Range(7, 4).Select(s => Logs.Accept("g", s))]), Logs.Keys(wal.ReadAll("g")));
        }

        await using WriteAheadLog reopened = Logs.Open(fs);
        AssertSnapshot(reopened, 6, [6, 6]);
        Assert.Equal([0L, 7, 8, 9, 10], reopened.ReadAll("g").Select(r => r.Slot));
        Assert.Null(reopened.LoadSnapshot("other"));
    }

    [Fact]
    public async Task A_crash_at_any_point_of_a_save_leaves_the_previous_or_the_new_snapshot_whole()
    {
        byte[] previous = [1, 1, 1];
        byte[] next = Enumerable.Repeat((byte)2, 5000).ToArray();
        var outcomes = new HashSet<long>();
        await Logs.AtEveryCrashPointAsync(
            async wal => await wal.SaveSnapshotAsync("g", 10, previous, Ct),
            async wal => await wal.SaveSnapshotAsync("g", 20, next, Ct),
            (reopened, fs) =>
            {
                (long slot, byte[] data) = reopened.LoadSnapshot("g")!.Value;
                Assert.Equal(slot == 10 ? previous : next, data);
                outcomes.Add(slot);
                Assert.Empty(fs.Files("snap-*.tmp"));
            });

        Assert.Equal([10L, 20L], outcomes.Order());
    }

    [Fact]
    public async Task Reclamation_deletes_old_segments_and_carries_forward_what_is_still_needed()
    {
        var fs = new FaultyFileSystem();
        const long segmentBytes = WalOptions.MinSegmentBytes;
        await using (WriteAheadLog wal = Logs.Open(fs, segmentBytes))
        {
            // "idle" writes its promise and two accepts first and then nothing: they sit in the oldest segment.
            await wal.AppendAsync(Logs.HardState("idle", 7), Ct);
            await wal.AppendAsync([Logs.Accept("idle", 1), Logs.Accept("idle", 2)], Ct);
            await wal.AppendAsync(Logs.HardState("busy", 1), Ct);
            for (int slot = 1; slot <= 300; slot++)
            {
                await wal.AppendAsync(Logs.Accept("busy", slot, payloadBytes: 60), Ct);
            }

            // A superseded promise is not needed either.
            await wal.AppendAsync(Logs.HardState("busy", 2), Ct);
            IReadOnlyList<string> before = wal.SegmentPaths();
            Assert.True(before.Count >= 8, $"expected many segments, got {before.Count}");

            await wal.SaveSnapshotAsync("busy", 290, new byte[] { 42 }, Ct);
            await wal.CompactAsync();

            IReadOnlyList<string> after = wal.SegmentPaths();
            Assert.True(after.Count <= 2, $"expected old segments to be reclaimed, {after.Count} remain");
            Assert.DoesNotContain(before[0], after);
            Assert.Equal(after, fs.Files("wal-*.log"));
            AssertRetained(wal);
        }

        await using WriteAheadLog reopened = Logs.Open(fs, segmentBytes);
        AssertRetained(reopened);

        static void AssertRetained(WriteAheadLog wal)
        {
            Assert.Equal(
                Logs.Keys([Logs.HardState("idle", 7), Logs.Accept("idle", 1), Logs.Accept("idle", 2),
                    .. Enumerable.Range(291, 10).Select(s => Logs.Accept("busy", s, payloadBytes: 60)), Logs.HardState("busy", 2)]),
                Logs.Keys(wal.ReadAll()));
        }
    }

    [Fact]
    public async Task A_deleted_group_stays_deleted_across_reclamation_and_reopen_and_can_come_back()
    {
        var fs = new FaultyFileSystem();
        const long segmentBytes = WalOptions.MinSegmentBytes;
        await using (WriteAheadLog wal = Logs.Open(fs, segmentBytes))
        {
            await wal.AppendAsync(Logs.HardState("gone", 3), Ct);
            await wal.SaveSnapshotAsync("gone", 0, new byte[] { 9 }, Ct);
            for (int slot = 1; slot <= 100; slot++)
            {
                await wal.AppendAsync(Logs.Accept("gone", slot, payloadBytes: 60), Ct);
                await wal.AppendAsync(Logs.Accept("kept", slot, payloadBytes: 60), Ct);
            }

            await wal.DeleteGroupAsync("gone", Ct);
            Assert.Null(wal.LoadSnapshot("gone"));
            Assert.Empty(wal.ReadAll("gone"));
            await wal.CompactAsync();
            await wal.AppendAsync(Logs.Accept("gone", 500), Ct);
        }

        await using (WriteAheadLog reopened = Logs.Open(fs, segmentBytes))
        {
            Assert.Equal([500L], reopened.ReadAll("gone").Select(r => r.Slot));
            Assert.Equal(Enumerable.Range(1, 100).Select(i => (long)i), reopened.ReadAll("kept").Select(r => r.Slot));
            Assert.Null(reopened.LoadSnapshot("gone"));
            Assert.Empty(fs.Files("snap-*.snap"));
        }
    }

    [Fact]
    public async Task A_snapshot_left_behind_by_an_interrupted_deletion_is_discarded_on_recovery()
    {
        var fs = new FaultyFileSystem();
        await using (WriteAheadLog wal = Logs.Open(fs))
        {
            await wal.AppendAsync(Logs.Accept("g", 1), Ct);
            await wal.SaveSnapshotAsync("g", 1, new byte[] { 1 }, Ct);
        }

        byte[] snapshotFile = fs.ReadFile(fs.Files("snap-*.snap").Single());
        await using (WriteAheadLog wal = Logs.Open(fs))
        {
            await wal.DeleteGroupAsync("g", Ct);
        }

        // As if the crash came after the tombstone was durable but before the snapshot file was removed.
        string snapshotPath = SnapshotPathOf(fs, snapshotFile);

        await using (WriteAheadLog reopened = Logs.Open(fs))
        {
            Assert.Null(reopened.LoadSnapshot("g"));
            Assert.Empty(reopened.ReadAll("g"));
            Assert.False(fs.FileExists(snapshotPath));
        }
    }

    [Fact]
    public async Task Superseded_hard_states_and_accepts_are_not_replayed()
    {
        await using WriteAheadLog wal = Logs.Open(new FaultyFileSystem());
        await wal.AppendAsync(Logs.HardState("g", 1), Ct);
        await wal.AppendAsync(new WalRecord("g", WalRecordKind.Accept, 5, 1, 1, new byte[] { 1 }), Ct);
        await wal.AppendAsync(Logs.HardState("g", 2), Ct);
        await wal.AppendAsync(new WalRecord("g", WalRecordKind.Accept, 5, 2, 1, new byte[] { 2 }), Ct);

        List<WalRecord> records = wal.ReadAll("g").ToList();
        Assert.Equal([WalRecordKind.HardState, WalRecordKind.Accept], records.Select(r => r.Kind));
        Assert.All(records, r => Assert.Equal(2, r.BallotRound));
    }

    [Fact]
    public async Task Kinds_nothing_writes_are_refused()
    {
        await using WriteAheadLog wal = Logs.Open(new FaultyFileSystem());
        await Assert.ThrowsAnyAsync<ArgumentException>(async () => await wal.AppendAsync(new WalRecord("g", (WalRecordKind)3, 1, 1, 1, default), Ct));
    }

    [Fact]
    public async Task An_older_snapshot_than_the_current_one_is_refused()
    {
        await using WriteAheadLog wal = Logs.Open(new FaultyFileSystem());
        await wal.SaveSnapshotAsync("g", 10, new byte[] { 1 }, Ct);
        await Assert.ThrowsAsync<InvalidOperationException>(async () => await wal.SaveSnapshotAsync("g", 9, new byte[] { 2 }, Ct));
        Assert.Equal(10, wal.LoadSnapshot("g")!.Value.Slot);
    }

    private static void AssertSnapshot(IReplicaLog log, long slot, byte[] data)
    {
        (long Slot, byte[] Data) snapshot = log.LoadSnapshot("g")!.Value;
        Assert.Equal(slot, snapshot.Slot);
        Assert.Equal(data, snapshot.Data);
    }

    private static string SnapshotPathOf(FaultyFileSystem fs, byte[] content)
    {
        // The deletion removed the file; put the old content back under its (hashed) name.
        var probe = new FaultyFileSystem();
        var store = new SnapshotStore(probe, FaultyFileSystem.Dir);
        store.Save("g", 1, 1, [1]);
        string path = probe.Files("snap-*.snap").Single();
        fs.ReplaceFile(path, content);
        return path;
    }
}

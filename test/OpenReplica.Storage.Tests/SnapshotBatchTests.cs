using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

/// <summary>
/// Several groups' snapshots saved together (<see cref="IReplicaLog.SaveSnapshotsAsync"/>): what an engine step does
/// with the snapshots of all its groups. Each group must end as if saved alone; only the fsyncs are shared.
/// </summary>
public sealed class SnapshotBatchTests
{
    private static readonly string[] Groups = ["g0", "g1", "g2", "g3", "g4", "g5"];

    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task Snapshots_saved_together_cost_one_directory_fsync_and_hide_the_records_they_cover()
    {
        var fs = new FaultyFileSystem();
        await using (WriteAheadLog wal = Logs.Open(fs))
        {
            await WriteRecordsAsync(wal, slots: 10);

            int files = fs.FileFsyncs;
            int directories = fs.DirectoryFsyncs;
            await wal.SaveSnapshotsAsync([.. Groups.Select((g, i) => new SnapshotSave(g, 5 + i % 3, SnapshotOf(g, 1)))], Ct);
            Assert.Equal(1, fs.DirectoryFsyncs - directories); // one at a time: one per snapshot
            Assert.True(fs.FileFsyncs - files >= Groups.Length, "every snapshot file is fsynced before its rename");
            AssertSaved(wal, generation: 1);
        }

        await using WriteAheadLog reopened = Logs.Open(fs);
        AssertSaved(reopened, generation: 1);
        Assert.Empty(fs.Files("snap-*.tmp"));
    }

    [Fact]
    public async Task One_at_a_time_costs_a_directory_fsync_per_snapshot()
    {
        // The baseline the test above is measured against: the same saves, one call each.
        var fs = new FaultyFileSystem();
        await using WriteAheadLog wal = Logs.Open(fs);
        await WriteRecordsAsync(wal, slots: 10);
        int directories = fs.DirectoryFsyncs;
        foreach ((string g, int i) in Groups.Select((g, i) => (g, i)))
        {
            await wal.SaveSnapshotAsync(g, 5 + i % 3, SnapshotOf(g, 1), Ct);
        }

        Assert.Equal(Groups.Length, fs.DirectoryFsyncs - directories);
        AssertSaved(wal, generation: 1);
    }

    [Fact]
    public async Task A_crash_at_any_point_of_a_batch_leaves_each_group_its_previous_or_its_new_snapshot_whole()
    {
        var outcomes = new HashSet<string>();
        await Logs.AtEveryCrashPointAsync(
            async wal =>
            {
                await WriteRecordsAsync(wal, slots: 12);
                await wal.SaveSnapshotsAsync([.. Groups.Select(g => new SnapshotSave(g, 3, SnapshotOf(g, 1)))], Ct);
            },
            async wal => await wal.SaveSnapshotsAsync([.. Groups.Select(g => new SnapshotSave(g, 8, SnapshotOf(g, 2)))], Ct),
            (reopened, fs) =>
            {
                var outcome = new List<long>();
                foreach (string g in Groups)
                {
                    (long slot, byte[] data) = reopened.LoadSnapshot(g)!.Value;
                    Assert.True(slot is 3 or 8, $"{g}: snapshot at slot {slot}");
                    Assert.Equal(SnapshotOf(g, slot == 3 ? 1 : 2), data);
                    // Whichever snapshot survived, every record above it is still there.
                    Assert.Equal(Enumerable.Range((int)slot + 1, 12 - (int)slot).Select(s => (long)s), reopened.ReadAll(g).Where(r => r.Kind == WalRecordKind.Accept).Select(r => r.Slot));
                    outcome.Add(slot);
                }

                outcomes.Add(string.Join(",", outcome));
                Assert.Empty(fs.Files("snap-*.tmp"));
            });

        // The crash points cover the old state, the new one and some in between.
        Assert.Contains(string.Join(",", Groups.Select(_ => 3)), outcomes);
        Assert.Contains(string.Join(",", Groups.Select(_ => 8)), outcomes);
    }

    [Fact]
    public async Task A_batch_with_one_group_that_has_a_newer_snapshot_is_refused_whole()
    {
        var fs = new FaultyFileSystem();
        await using WriteAheadLog wal = Logs.Open(fs);
        await WriteRecordsAsync(wal, slots: 10);
        await wal.SaveSnapshotAsync("g1", 9, SnapshotOf("g1", 1), Ct);

        var e = await Assert.ThrowsAsync<InvalidOperationException>(async () =>
            await wal.SaveSnapshotsAsync([new SnapshotSave("g0", 5, SnapshotOf("g0", 2)), new SnapshotSave("g1", 6, SnapshotOf("g1", 2))], Ct));
        Assert.Contains("'g1' already has a snapshot at slot 9", e.Message);
        Assert.Null(wal.LoadSnapshot("g0"));
        Assert.Equal(9, wal.LoadSnapshot("g1")!.Value.Slot);
        Assert.Equal(10, wal.ReadAll("g0").Count(r => r.Kind == WalRecordKind.Accept));
    }

    [Fact]
    public async Task A_group_named_twice_in_one_batch_is_refused()
    {
        var fs = new FaultyFileSystem();
        await using WriteAheadLog wal = Logs.Open(fs);
        var e = await Assert.ThrowsAsync<ArgumentException>(async () =>
            await wal.SaveSnapshotsAsync([new SnapshotSave("g0", 1, new byte[] { 1 }), new SnapshotSave("g0", 2, new byte[] { 2 })], Ct));
        Assert.Contains("'g0' appears twice", e.Message);
        Assert.Null(wal.LoadSnapshot("g0"));
    }

    private static async Task WriteRecordsAsync(WriteAheadLog wal, int slots)
    {
        foreach (string g in Groups)
        {
            await wal.AppendAsync(Logs.HardState(g, 1), Ct);
            await wal.AppendAsync([.. Enumerable.Range(1, slots).Select(s => Logs.Accept(g, s))], Ct);
        }
    }

    private static byte[] SnapshotOf(string group, int generation) => Logs.PayloadFor(group, -generation, 300 + generation);

    private static void AssertSaved(WriteAheadLog wal, int generation)
    {
        foreach ((string g, int i) in Groups.Select((g, i) => (g, i)))
        {
            (long slot, byte[] data) = wal.LoadSnapshot(g)!.Value;
            Assert.Equal(5 + i % 3, slot);
            Assert.Equal(SnapshotOf(g, generation), data);
            Assert.Equal(Enumerable.Range((int)slot + 1, 10 - (int)slot).Select(s => (long)s), wal.ReadAll(g).Where(r => r.Kind == WalRecordKind.Accept).Select(r => r.Slot));
        }
    }
}

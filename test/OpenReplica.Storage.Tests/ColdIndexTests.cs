using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

/// <summary>
/// The WAL's index bounded by the working set: groups whose state left memory (released, or beyond
/// <see cref="WalOptions.MaxResidentGroups"/>) are found on disk again through the segments' indexes and read back
/// exactly what a log that never forgets (the volatile log, same retention rules) returns — also after reclamation,
/// reopening and a power cut.
/// </summary>
public sealed class ColdIndexTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    public static TheoryData<int> Seeds => new(Enumerable.Range(1, 8));

    [Fact]
    public async Task A_group_the_log_never_held_is_answered_without_opening_any_index_file_before_and_after_reopening()
    {
        // Every new grain's group is looked up a few times on each of its silos before its first record.
        var fs = new FaultyFileSystem();
        WriteAheadLog wal = Logs.Open(fs, WalOptions.MinSegmentBytes);
        for (int g = 0; g < 40; g++)
        {
            for (long slot = 1; slot <= 5; slot++) await wal.AppendAsync(Logs.Accept($"held-{g}", slot, 200), Ct);
            wal.ReleaseGroup($"held-{g}"); // cold: found again through the segments' index files
        }
        Assert.True(fs.Files("wal-*.log").Count > 2, "the records should span several segments");

        for (int pass = 0; pass < 2; pass++)
        {
            int opens = fs.Opens;
            Assert.Empty(wal.ReadAll("never-written"));
            Assert.Equal(opens, fs.Opens);
            Assert.Equal(5, wal.ReadAll("held-7").Count()); // a group it held is still read back from disk
            Assert.True(fs.Opens > opens, "a cold group's records are found through the index files");

            await wal.DisposeAsync();
            wal = Logs.Open(fs, WalOptions.MinSegmentBytes); // recovery learns the same groups
        }
        await wal.DisposeAsync();
    }

    [Fact]
    public async Task A_cold_groups_scattered_records_are_read_without_the_records_between_them_through_one_kept_handle()
    {
        // Every group appends to the same segment, so one group's records lie far apart. Reading from its first record
        // to its last read every other group's records in between: tens of MB per rebuild in a rolling restart.
        var fs = new FaultyFileSystem();
        WriteAheadLog wal = Logs.Open(fs, 8 << 20);
        for (long slot = 1; slot <= 100; slot++)
        {
            await wal.AppendAsync(Logs.Accept("small", slot, 100), Ct);
            await wal.AppendAsync(Logs.Accept("big", slot, 32 * 1024), Ct); // more than a read spans between two records
        }
        wal.ReleaseGroup("small");

        long read = fs.BytesRead;
        var records = wal.ReadAll("small").ToList();
        Assert.Equal(Enumerable.Range(1, 100).Select(s => (long)s), records.Select(r => r.Slot));
        Assert.All(records, r => Assert.Equal(Logs.PayloadFor("small", r.Slot, 100), r.Payload.ToArray()));
        long bytes = fs.BytesRead - read;
        Assert.True(bytes < 100 * 1024, $"read {bytes} bytes to rebuild 100 records of about 150 bytes");

        // The segment stays open between lookups (opening it for each read cost more system calls than the read).
        wal.ReleaseGroup("small");
        int opens = fs.Opens;
        Assert.Equal(100, wal.ReadAll("small").Count());
        Assert.Equal(opens, fs.Opens);
        await wal.DisposeAsync();
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Cold_groups_read_back_what_the_volatile_log_holds_across_reclamation_reopen_and_power_loss(int seed)
    {
        var random = new Random(seed);
        var fs = new FaultyFileSystem();
        const long segmentBytes = WalOptions.MinSegmentBytes;
        await using var oracle = new VolatileLog();
        WriteAheadLog wal = Logs.Open(fs, segmentBytes);
        string[] groups = [.. Enumerable.Range(0, 24).Select(g => $"grain-{g}")];
        var snapshots = new Dictionary<string, long>();
        var rounds = new Dictionary<string, long>();
        for (int step = 0; step < 1_500; step++)
        {
            string group = groups[random.Next(groups.Length)];
            switch (random.Next(20))
            {
                case 0:
                    long round = rounds[group] = rounds.GetValueOrDefault(group) + 1;
                    await Both(log => log.AppendAsync(Logs.HardState(group, round), Ct));
                    break;
                case 1:
                    // Snapshots move up only; records at or below them become reclaimable.
                    long slot = snapshots[group] = snapshots.GetValueOrDefault(group) + random.Next(0, 12);
                    await Both(log => log.SaveSnapshotAsync(group, slot, BitConverter.GetBytes(slot), Ct));
                    break;
                case 2 when random.Next(10) == 0:
                    snapshots.Remove(group);
                    await Both(log => log.DeleteGroupAsync(group, Ct));
                    break;
                case 3:
                    await wal.CompactAsync();
                    // Quiet now (nothing left to reclaim): only a reclamation pass may hold more groups, for its segment.
                    Assert.InRange(wal.ResidentGroups, 0, 4);
                    break;
                case 4:
                case 5:
                    wal.ReleaseGroup(group);
                    break;
                default:
                    // Slots are rewritten now and then (a later ballot): only the latest copy is retained.
                    long accept = snapshots.GetValueOrDefault(group) + random.Next(1, 20);
                    WalRecord record = Logs.Accept(group, accept, payloadBytes: random.Next(1, 200)) with { BallotRound = step };
                    await Both(log => log.AppendAsync(record, Ct));
                    break;
            }
        }

        AssertSame(wal, "after the workload");
        await wal.CompactAsync();
        AssertSame(wal, "after reclamation");
        Assert.True(wal.SegmentPaths().Count < 1_500 / 8, $"reclamation should have deleted segments; {wal.SegmentPaths().Count} remain");
        await wal.DisposeAsync();

        wal = Logs.Open(fs, segmentBytes);
        // Recovery loads no group; read before the writer's first reclamation pass, which may load the groups of the
        // segment it reclaims (read after it, 19 groups were resident once in CI, session 37).
        Assert.Equal(0, wal.ResidentGroupsAtOpen);
        AssertSame(wal, "after reopening");
        AssertIndexFilesMatchSegments(fs, wal);

        // Power cut: index files are never fsynced, so what survives of them is anything; recovery rewrites them.
        fs.Crash(new Random(seed));
        await wal.DisposeAsync();
        fs.Restart();
        await using WriteAheadLog recovered = Logs.Open(fs, segmentBytes);
        AssertSame(recovered, "after a power cut");
        AssertIndexFilesMatchSegments(fs, recovered);

        async Task Both(Func<IReplicaLog, ValueTask> operation)
        {
            await operation(wal);
            await operation(oracle);
        }

        void AssertSame(WriteAheadLog log, string when)
        {
            foreach (string group in groups)
            {
                Assert.True(Logs.Keys(oracle.ReadAll(group)).SequenceEqual(Logs.Keys(log.ReadAll(group))), $"{group} differs {when}");
                Assert.Equal(oracle.LoadSnapshot(group)?.Slot, log.LoadSnapshot(group)?.Slot);
            }

            Assert.Equal(Logs.Keys(oracle.ReadAll()), Logs.Keys(log.ReadAll()));
        }
    }

    [Fact]
    public async Task Resident_group_states_stay_within_the_bound_however_many_groups_were_written()
    {
        var fs = new FaultyFileSystem();
        WalOptions options = Logs.Options(fs, segmentBytes: 16 * 1024);
        options.MaxResidentGroups = 64;
        const int groups = 2_000;
        await using (WriteAheadLog wal = WriteAheadLog.Open(options))
        {
            for (int g = 0; g < groups; g++)
            {
                // What a grain written once leaves: a promise, one accept, a commit.
                string id = $"3|counter/key-{g}";
                await wal.AppendAsync([Logs.HardState(id, 1), Logs.Accept(id, 1), Logs.HardState(id, 2)], Ct);
                Assert.InRange(wal.ResidentGroups, 1, 64);
            }

            // Reading the whole log does not make every group resident either.
            Assert.Equal(groups * 2, wal.ReadAll().Count());
            Assert.InRange(wal.ResidentGroups, 1, 64);

            // An owner releasing its idle groups empties the index; a read brings back exactly the one group read.
            for (int g = 0; g < groups; g++) wal.ReleaseGroup($"3|counter/key-{g}");
            Assert.Equal(0, wal.ResidentGroups);
            Assert.Equal([WalRecordKind.Accept, WalRecordKind.HardState], wal.ReadAll("3|counter/key-7").Select(r => r.Kind));
            Assert.Equal(1, wal.ResidentGroups);
            // A group the log never held is not made resident by looking for it.
            Assert.Empty(wal.ReadAll("3|counter/never-written"));
            Assert.Equal(1, wal.ResidentGroups);
        }

        await using WriteAheadLog reopened = WriteAheadLog.Open(options);
        Assert.Equal(0, reopened.ResidentGroups);
        Assert.Equal(2L, reopened.ReadAll($"3|counter/key-{groups - 1}").Last().BallotRound);
        Assert.Equal(1, reopened.ResidentGroups);
    }

    [Fact]
    public async Task Reclaiming_a_segment_carries_cold_groups_records_forward()
    {
        var fs = new FaultyFileSystem();
        const long segmentBytes = WalOptions.MinSegmentBytes;
        await using (WriteAheadLog wal = Logs.Open(fs, segmentBytes))
        {
            // Eight idle groups write into the first segment and leave memory; then a busy group fills many segments.
            for (int g = 0; g < 8; g++)
            {
                await wal.AppendAsync([Logs.HardState($"idle-{g}", 1), Logs.Accept($"idle-{g}", 1, payloadBytes: 8)], Ct);
                wal.ReleaseGroup($"idle-{g}");
            }

            for (int slot = 1; slot <= 300; slot++)
            {
                await wal.AppendAsync(Logs.Accept("busy", slot, payloadBytes: 60), Ct);
            }

            IReadOnlyList<string> before = wal.SegmentPaths();
            await wal.SaveSnapshotAsync("busy", 295, new byte[] { 1 }, Ct);
            await wal.CompactAsync();
            IReadOnlyList<string> after = wal.SegmentPaths();

            // The busy group's segments and the first one (mostly the busy group's accepts) are gone.
            Assert.DoesNotContain(before[0], after);
            Assert.True(after.Count <= 3, $"expected the old segments reclaimed, {after.Count} remain");
            AssertRetained(wal);
            Assert.True(wal.ResidentGroups <= 4, "groups loaded to judge the reclaimed segment leave memory again");
            AssertIndexFilesMatchSegments(fs, wal);
        }

        await using WriteAheadLog reopened = Logs.Open(fs, segmentBytes);
        AssertRetained(reopened);

        static void AssertRetained(WriteAheadLog wal)
        {
            for (int g = 0; g < 8; g++)
            {
                Assert.Equal(Logs.Keys([Logs.HardState($"idle-{g}", 1), Logs.Accept($"idle-{g}", 1, payloadBytes: 8)]), Logs.Keys(wal.ReadAll($"idle-{g}")));
            }

            Assert.Equal(Enumerable.Range(296, 5).Select(s => (long)s), wal.ReadAll("busy").Select(r => r.Slot));
        }
    }

    /// <summary>The index files on disk are exactly those of the live segments (none left behind by a deleted one).</summary>
    private static void AssertIndexFilesMatchSegments(FaultyFileSystem fs, WriteAheadLog wal)
    {
        Assert.Equal(wal.IndexFilePaths().Order(StringComparer.Ordinal), fs.Files(SegmentIndexFile.Pattern).Order(StringComparer.Ordinal));
    }
}

using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

/// <summary>
/// <see cref="IReplicaLog.TakeRecoveredGroups"/>: the groups a reopened log holds data of, learned from recovery's own
/// scan (start-up reads the WAL once), handed over once.
/// </summary>
public sealed class RecoveredGroupsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_reopened_log_names_every_group_with_records_or_a_snapshot_and_no_deleted_one()
    {
        var fs = new FaultyFileSystem();
        await using (WriteAheadLog wal = Logs.Open(fs, segmentBytes: 4 * 1024))
        {
            Assert.Empty(wal.TakeRecoveredGroups()); // a new log
            for (int slot = 1; slot <= 40; slot++)
            {
                await wal.AppendAsync(Logs.Accept("records", slot, payloadBytes: 200), Ct); // spread over several segments
            }

            await wal.AppendAsync(Logs.HardState("hard-state-only", 3), Ct);
            await wal.SaveSnapshotAsync("snapshot-only", 5, new byte[] { 5 }, Ct);
            await wal.AppendAsync(Logs.Accept("deleted", 1), Ct);
            await wal.SaveSnapshotAsync("deleted", 1, new byte[] { 1 }, Ct);
            await wal.DeleteGroupAsync("deleted", Ct);
            await wal.AppendAsync(Logs.Accept("deleted-then-back", 1), Ct);
            await wal.DeleteGroupAsync("deleted-then-back", Ct);
            await wal.AppendAsync(Logs.Accept("deleted-then-back", 1), Ct);
            await wal.SaveSnapshotAsync("compacted", 3, new byte[] { 3 }, Ct);
            for (int slot = 1; slot <= 3; slot++) await wal.AppendAsync(Logs.Accept("compacted", slot), Ct);
        }

        await using WriteAheadLog reopened = Logs.Open(fs, segmentBytes: 4 * 1024);
        var recovered = reopened.TakeRecoveredGroups();
        Assert.Equal(["compacted", "deleted-then-back", "hard-state-only", "records", "snapshot-only"], recovered.Order(StringComparer.Ordinal));
        // The same groups the whole-log read finds, plus the one with only a snapshot.
        Assert.Equal(reopened.ReadAll().Select(r => r.GroupId).Append("snapshot-only").Append("compacted").Distinct().Order(StringComparer.Ordinal),
            recovered.Order(StringComparer.Ordinal));
        Assert.Empty(reopened.TakeRecoveredGroups()); // handed over once: the log keeps no copy
    }

    [Fact]
    public void A_volatile_log_recovers_no_group()
    {
        Assert.Empty(new VolatileLog().TakeRecoveredGroups());
    }
}

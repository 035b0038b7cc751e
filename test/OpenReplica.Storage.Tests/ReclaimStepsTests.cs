using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

/// <summary>
/// Reclamation works in steps (<see cref="WalOptions.ReclaimStepBytes"/>) with the writer's batches between them: an
/// append queued while a segment is being reclaimed is written and acknowledged before the reclamation finishes,
/// and what the log holds afterwards, and after reopening, is what a log that never reclaims holds.
/// </summary>
public sealed class ReclaimStepsTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task An_append_is_written_between_the_steps_of_a_reclamation_and_nothing_retained_is_lost(bool powerLossMidway)
    {
        var manual = await ManualLog.OpenFilledAsync(Ct); // the test runs the writer's passes one by one
        var (fs, wal, oracle, groups, slots) = (manual.Fs, manual.Wal, manual.Oracle, manual.Groups, manual.Slots);
        Assert.True(wal.SegmentPaths().Count >= 5, "the workload fills several segments");

        // Half of the groups snapshot at their last slot: their records become garbage, the sealed segments half live.
        await manual.SnapshotHalfAsync(Ct);
        while (wal.RunWriterOnce()) { } // the snapshots' wake-up requests
        var segmentsBefore = wal.SegmentPaths().ToList();

        // One pass starts reclaiming a segment and takes one step of a few records: not done yet.
        Assert.False(wal.RunWriterOnce());
        Assert.True(wal.ReclaimInProgress, "a 4 KiB segment takes several 256-byte steps");
        Assert.Equal(segmentsBefore, wal.SegmentPaths());

        // An append now is written by the next pass, before the reclamation ends.
        long next = slots[groups[1]] + 1;
        ValueTask append = wal.AppendAsync(Logs.Accept(groups[1], next, payloadBytes: 100), Ct);
        await oracle.AppendAsync(Logs.Accept(groups[1], next, payloadBytes: 100), Ct);
        Assert.True(wal.RunWriterOnce());
        await append;
        Assert.True(wal.ReclaimInProgress, "the append did not wait for the reclamation");
        if (powerLossMidway)
        {
            // Power is lost with the segment half carried forward: the copies and the old segment hold the same records.
            for (int i = 0; i < 3; i++) wal.RunWriterOnce();
            Assert.True(wal.ReclaimInProgress);
        }
        else
        {
            // The passes go on until the segment is done (a segment reclaimed since may start another in the same pass).
            int passes = 0;
            do
            {
                wal.RunWriterOnce();
                Assert.True(++passes < 10_000, "reclamation does not end");
            }
            while (wal.ReclaimInProgress);
            // The copies may have started a new segment, so the count need not fall; the victim is gone.
            Assert.Contains(segmentsBefore, path => !wal.SegmentPaths().Contains(path));
            AssertSame(wal, "after reclamation");
        }

        // A manual writer never exits, so the log is not disposed: the power goes instead (what was not fsynced is lost).
        fs.Crash(new Random(7));
        fs.Restart();
        await using WriteAheadLog reopened = Logs.Open(fs, WalOptions.MinSegmentBytes);
        AssertSame(reopened, "after power loss and reopening");
        await reopened.CompactAsync();
        AssertSame(reopened, "after the reopened log reclaimed");

        void AssertSame(WriteAheadLog log, string when)
        {
            foreach (string group in groups)
            {
                Assert.True(Logs.Keys(oracle.ReadAll(group)).SequenceEqual(Logs.Keys(log.ReadAll(group))), $"{group} differs {when}");
            }
        }
    }
}

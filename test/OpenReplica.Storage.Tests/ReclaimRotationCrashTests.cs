using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

/// <summary>
/// Reclamation copies live records into the head segment without an fsync of their own (the next batch's fsync, or
/// the head's seal, makes them durable). When the copies fill the head, it is sealed and a new head created: a power
/// cut between the two must not leave unsynced copies in a segment that is no longer the last one, where recovery
/// can only call a torn record corruption and refuse to open the log (CI, session 37: "record cut short in a sealed
/// segment" from <c>CrashConsistencyTests</c>, seed 11, once). Every crash point of a whole reclamation is tried.
/// </summary>
public sealed class ReclaimRotationCrashTests
{
    private static CancellationToken Ct => TestContext.Current.CancellationToken;

    [Fact]
    public async Task A_power_cut_anywhere_in_a_reclamation_that_rotates_the_head_leaves_a_log_that_opens_with_every_retained_record()
    {
        int rotations = 0;
        for (int crashAt = 1; ; crashAt++)
        {
            Assert.True(crashAt < 10_000, "the reclamation never ran to its end without a crash");
            var manual = await ManualLog.OpenFilledAsync(Ct); // every run takes the same steps
            var (fs, wal, oracle, groups) = (manual.Fs, manual.Wal, manual.Oracle, manual.Groups);

            // Half of the groups snapshot: every sealed segment is half live, so several are reclaimed and their copies fill the head.
            await manual.SnapshotHalfAsync(Ct);
            while (wal.RunWriterOnce()) { }
            int segmentsBefore = wal.SegmentPaths().Count;
            var headBefore = wal.SegmentPaths().Max();

            fs.CrashAfterOperations = crashAt;
            fs.TornWriteRandom = new Random(crashAt);
            try
            {
                // Passes until no segment is left to reclaim (a pass that finds nothing to do is cheap).
                for (int idle = 0, pass = 0; idle < 3 && pass < 10_000 && !fs.HasCrashed; pass++)
                {
                    wal.RunWriterOnce();
                    idle = wal.ReclaimInProgress ? 0 : idle + 1;
                }
            }
            catch (IOException)
            {
            }
            bool crashed = fs.HasCrashed;
            if (!crashed) fs.Crash(new Random(crashAt)); // ran whole: the power goes anyway (a manual writer never exits)
            if (wal.SegmentPaths().Max() != headBefore) rotations++;
            fs.Restart();

            await using (WriteAheadLog reopened = Logs.Open(fs, WalOptions.MinSegmentBytes))
            {
                foreach (string group in groups)
                {
                    Assert.True(Logs.Keys(oracle.ReadAll(group)).SequenceEqual(Logs.Keys(reopened.ReadAll(group))),
                        $"{group} differs after a power cut at file operation {crashAt} of the reclamation ({segmentsBefore} segments before)");
                }
            }

            if (!crashed)
            {
                // The reclamation's copies rotated the head in some of the runs, or the test showed nothing.
                Assert.True(rotations > 0, "no run's copies filled the head, so no rotation was crashed into");
                return;
            }
        }
    }
}

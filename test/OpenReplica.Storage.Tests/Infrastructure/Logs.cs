using System.Text;
using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

/// <summary>Shared helpers: opening logs on the fault-injecting file system and making recognizable records.</summary>
internal static class Logs
{
    /// <summary>
    /// Options of the tests' logs. At most 4 groups stay resident, so every test with more groups also runs the cold
    /// path: states dropped and rebuilt from the segments' indexes on the next read or write; and the head segment's
    /// in-memory index goes to an index file every 8 records, so heads are looked up through several files too; and a
    /// segment is reclaimed a few records at a time.
    /// </summary>
    public static WalOptions Options(IFileSystem fs, long segmentBytes = 64 * 1024, int maxBatchRecords = 4096) => new()
    {
        Directory = FaultyFileSystem.Dir,
        FileSystem = fs,
        SegmentBytes = segmentBytes,
        MaxBatchRecords = maxBatchRecords,
        MaxResidentGroups = 4,
        HeadIndexEntries = 8,
        // A few records per reclamation step, so appends and snapshots interleave with every reclamation.
        ReclaimStepBytes = 256,
    };

    public static WriteAheadLog Open(FaultyFileSystem fs, long segmentBytes = 64 * 1024) => WriteAheadLog.Open(Options(fs, segmentBytes));

    /// <summary>
    /// Runs <paramref name="act"/> on a log <paramref name="arrange"/> prepared, once for every point at which a power
    /// cut can interrupt it (the Nth file operation from the start, torn writes seeded by N), and once more where it
    /// runs whole; <paramref name="check"/> sees the log reopened after each (after the reboot, when it crashed).
    /// </summary>
    public static async Task AtEveryCrashPointAsync(Func<WriteAheadLog, Task> arrange, Func<WriteAheadLog, Task> act, Action<WriteAheadLog, FaultyFileSystem> check)
    {
        for (int crashAt = 1; ; crashAt++)
        {
            var fs = new FaultyFileSystem();
            await using (WriteAheadLog wal = Open(fs))
            {
                await arrange(wal);
                fs.CrashAfterOperations = crashAt;
                fs.TornWriteRandom = new Random(crashAt);
                try
                {
                    await act(wal);
                }
                catch (IOException)
                {
                }
            }

            bool crashed = fs.HasCrashed;
            if (crashed)
            {
                fs.Restart();
            }
            else
            {
                fs.CrashAfterOperations = null; // it ran whole: reopen without a crash
            }

            await using (WriteAheadLog reopened = Open(fs))
            {
                check(reopened, fs);
            }

            if (!crashed)
            {
                return;
            }
        }
    }

    public static WalRecord Accept(string group, long slot, int payloadBytes = 16) =>
        new(group, WalRecordKind.Accept, slot, BallotRound: slot / 3 + 1, BallotReplica: 2, Payload: PayloadFor(group, slot, payloadBytes));

    public static WalRecord HardState(string group, long round) =>
        new(group, WalRecordKind.HardState, 0, round, 1, Encoding.UTF8.GetBytes($"promise {round}"));

    /// <summary>A payload derived from the record's identity, so a mixed-up or damaged payload is noticed.</summary>
    public static byte[] PayloadFor(string group, long slot, int length)
    {
        var payload = new byte[length];
        new Random(unchecked(group.Aggregate(17, (h, c) => h * 31 + c) * 397 ^ (int)slot)).NextBytes(payload);
        return payload;
    }

    public static string Key(WalRecord r) => $"{r.GroupId}/{r.Kind}/{r.Slot}/{r.BallotRound}.{r.BallotReplica}/{Convert.ToHexString(r.Payload.Span)}";

    public static List<string> Keys(IEnumerable<WalRecord> records) => records.Select(Key).ToList();

    public static string LastSegment(FaultyFileSystem fs) => fs.Files("wal-*.log")[^1];

    /// <summary>Offsets and lengths of the records in a segment image, read with the production scanner.</summary>
    public static List<(int Offset, int Length)> RecordSpans(string path, byte[] segment) =>
        SegmentScanner.Scan(0, path, segment, isLast: true).Records.Select(r => ((int)r.Offset, r.Header.Length)).ToList();
}

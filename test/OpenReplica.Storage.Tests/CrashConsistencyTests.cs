using System.Collections.Concurrent;
using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

public sealed class CrashConsistencyTests
{
    public static TheoryData<int> Seeds => new(Enumerable.Range(1, 12));

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Every_acknowledged_append_survives_a_crash_in_order_without_duplicates(int seed)
    {
        var random = new Random(seed);
        var fs = new FaultyFileSystem
        {
            // Crash somewhere between the first few batches and well past several rotations.
            CrashAfterOperations = random.Next(5, 400),
            TornWriteRandom = new Random(seed * 7919),
        };
        const int appenders = 16;
        var acknowledged = new ConcurrentDictionary<string, List<long>>();

        WriteAheadLog wal = Logs.Open(fs, segmentBytes: 8 * 1024);
        Task[] tasks = Enumerable.Range(0, appenders).Select(a => Task.Run(async () =>
        {
            string group = $"group-{a}";
            var acked = acknowledged.GetOrAdd(group, _ => []);
            for (long slot = 1; ; slot++)
            {
                try
                {
                    // Some appends carry two records, to cover multi-record requests.
                    if (slot % 5 == 0)
                    {
                        await wal.AppendAsync([Logs.Accept(group, slot), Logs.Accept(group, slot + 1)]);
                        acked.Add(slot);
                        acked.Add(++slot);
                    }
                    else
                    {
                        await wal.AppendAsync(Logs.Accept(group, slot, payloadBytes: 1 + (int)(slot % 50)));
                        acked.Add(slot);
                    }
                }
                catch (WalFailedException)
                {
                    return;
                }
            }
        })).ToArray();

        await Task.WhenAll(tasks).WaitAsync(TimeSpan.FromSeconds(60), TestContext.Current.CancellationToken);
        Assert.True(fs.HasCrashed);
        await wal.DisposeAsync();
        fs.Restart();

        await using WriteAheadLog recovered = Logs.Open(fs, segmentBytes: 8 * 1024);
        List<WalRecord> all = recovered.ReadAll().ToList();
        Assert.Equal(all.Count, all.Select(Logs.Key).Distinct().Count());
        foreach ((string group, List<long> acked) in acknowledged)
        {
            List<WalRecord> records = all.Where(r => r.GroupId == group).ToList();
            // Durable records of one sequential appender are a prefix of what it sent, in order: the acknowledged
            // ones plus at most the request (up to two records) that was in flight at the crash.
            Assert.Equal(Enumerable.Range(1, records.Count).Select(i => (long)i), records.Select(r => r.Slot));
            Assert.InRange(records.Count, acked.Count, acked.Count + 2);
            Assert.All(records, r => Assert.Equal(Logs.Key(Logs.Accept(group, r.Slot, r.Payload.Length)), Logs.Key(r)));
        }

        // The recovered log keeps working.
        await recovered.AppendAsync(Logs.Accept("after-crash", 1), TestContext.Current.CancellationToken);
        Assert.Equal("after-crash", recovered.ReadAll().Last().GroupId);
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Crashes_during_snapshots_and_reclamation_lose_nothing_that_is_still_needed(int seed)
    {
        var random = new Random(seed);
        var fs = new FaultyFileSystem { CrashAfterOperations = random.Next(20, 600), TornWriteRandom = new Random(seed) };
        CancellationToken ct = TestContext.Current.CancellationToken;
        // Per group: the latest acknowledged HardState round, snapshot slot and accepted slots.
        var hardStates = new Dictionary<string, long>();
        var snapshots = new Dictionary<string, long>();
        var accepts = new Dictionary<string, SortedSet<long>>();

        WriteAheadLog wal = Logs.Open(fs, segmentBytes: WalOptions.MinSegmentBytes);
        try
        {
            for (int step = 0; ; step++)
            {
                // More groups than the logs' resident bound (4), and releases: the cold index is crashed into too.
                string group = $"g{random.Next(8)}";
                var slots = accepts.TryGetValue(group, out SortedSet<long>? s) ? s : accepts[group] = [];
                long next = Math.Max(slots.Count > 0 ? slots.Max : 0, snapshots.GetValueOrDefault(group)) + 1;
                switch (random.Next(10))
                {
                    case 0:
                        long round = hardStates.GetValueOrDefault(group) + 1;
                        await wal.AppendAsync(Logs.HardState(group, round), ct);
                        hardStates[group] = round;
                        break;
                    case 1 when slots.Count > 0:
                        long upTo = slots.Max - random.Next(0, 3);
                        if (upTo > snapshots.GetValueOrDefault(group))
                        {
                            await wal.SaveSnapshotAsync(group, upTo, BitConverter.GetBytes(upTo), ct);
                            snapshots[group] = upTo;
                            slots.RemoveWhere(x => x <= upTo);
                        }

                        break;
                    case 2:
                        await ((WriteAheadLog)wal).CompactAsync();
                        break;
                    case 3:
                        wal.ReleaseGroup(group);
                        break;
                    default:
                        await wal.AppendAsync(Logs.Accept(group, next, payloadBytes: random.Next(10, 300)), ct);
                        slots.Add(next);
                        break;
                }
            }
        }
        catch (Exception ex) when (ex is WalFailedException or IOException)
        {
        }

        await wal.DisposeAsync();
        fs.Restart();
        await using WriteAheadLog recovered = Logs.Open(fs, segmentBytes: WalOptions.MinSegmentBytes);
        foreach (string group in accepts.Keys)
        {
            List<WalRecord> records = recovered.ReadAll(group).ToList();
            long snapshotSlot = recovered.LoadSnapshot(group)?.Slot ?? 0;
            // The snapshot may be one that was being saved at the crash (newer than acknowledged), never older.
            Assert.True(snapshotSlot >= snapshots.GetValueOrDefault(group));
            if (snapshotSlot > 0)
            {
                Assert.Equal(BitConverter.GetBytes(snapshotSlot), recovered.LoadSnapshot(group)!.Value.Data);
            }

            long hardState = records.Where(r => r.Kind == WalRecordKind.HardState).Select(r => r.BallotRound).DefaultIfEmpty(0).Single();
            Assert.InRange(hardState, hardStates.GetValueOrDefault(group), hardStates.GetValueOrDefault(group) + 1);
            var durableSlots = records.Where(r => r.Kind == WalRecordKind.Accept).Select(r => r.Slot).ToList();
            Assert.Equal(durableSlots.Order(), durableSlots);
            Assert.All(durableSlots, slot => Assert.True(slot > snapshotSlot));
            HashSet<long> acknowledgedAbove = accepts[group].Where(x => x > snapshotSlot).ToHashSet();
            Assert.Superset(acknowledgedAbove, durableSlots.ToHashSet());
            Assert.True(durableSlots.Count <= acknowledgedAbove.Count + 1, "at most the one in-flight append may survive unacknowledged");
        }
    }
}

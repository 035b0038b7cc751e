using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

/// <summary>
/// A log whose writer passes the test runs one by one (<see cref="WalOptions.ManualWriter"/>, so every run takes the
/// same steps), with 4 KiB segments, next to a <see cref="VolatileLog"/> oracle that gets the same records: eight
/// groups written round-robin, 240 records of 100 bytes, which fill several segments.
/// </summary>
internal sealed class ManualLog
{
    private ManualLog(FaultyFileSystem fs, WriteAheadLog wal)
    {
        Fs = fs;
        Wal = wal;
    }

    public FaultyFileSystem Fs { get; }

    public WriteAheadLog Wal { get; }

    public VolatileLog Oracle { get; } = new();

    public string[] Groups { get; } = [.. Enumerable.Range(0, 8).Select(g => $"grain-{g}")];

    /// <summary>Each group's last slot.</summary>
    public Dictionary<string, long> Slots { get; } = [];

    public static async Task<ManualLog> OpenFilledAsync(CancellationToken ct)
    {
        var fs = new FaultyFileSystem();
        WalOptions options = Logs.Options(fs, segmentBytes: WalOptions.MinSegmentBytes);
        options.ManualWriter = true;
        var log = new ManualLog(fs, WriteAheadLog.Open(options));
        for (int i = 0; i < 240; i++)
        {
            string group = log.Groups[i % log.Groups.Length];
            long slot = log.Slots[group] = log.Slots.GetValueOrDefault(group) + 1;
            await log.AppendBothAsync(Logs.Accept(group, slot, payloadBytes: 100), ct);
        }
        return log;
    }

    /// <summary>Appends <paramref name="record"/> to the log (one writer pass) and to the oracle.</summary>
    public async Task AppendBothAsync(WalRecord record, CancellationToken ct)
    {
        ValueTask written = Wal.AppendAsync(record, ct);
        Assert.True(Wal.RunWriterOnce());
        await written;
        await Oracle.AppendAsync(record, ct);
    }

    /// <summary>Snapshots every other group at its last slot in both: their records become garbage, the sealed segments half live.</summary>
    public async Task SnapshotHalfAsync(CancellationToken ct)
    {
        foreach (string group in Groups.Where((_, i) => i % 2 == 0))
        {
            await Wal.SaveSnapshotAsync(group, Slots[group], new byte[] { 1 }, ct);
            await Oracle.SaveSnapshotAsync(group, Slots[group], new byte[] { 1 }, ct);
        }
    }
}

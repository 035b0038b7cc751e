using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

public sealed class InspectorTests : IDisposable
{
    private readonly string _dir = Path.Combine(Path.GetTempPath(), "openreplica-inspect-" + Guid.NewGuid().ToString("N"));

    [Fact]
    public async Task Inspect_summarizes_groups_and_segments_on_a_real_directory()
    {
        CancellationToken ct = TestContext.Current.CancellationToken;
        await using (WriteAheadLog wal = WriteAheadLog.Open(new WalOptions { Directory = _dir, SegmentBytes = WalOptions.MinSegmentBytes }))
        {
            await wal.AppendAsync(new WalRecord("a", WalRecordKind.HardState, 0, 9, 3, new byte[4]), ct);
            for (int slot = 1; slot <= 60; slot++)
            {
                await wal.AppendAsync(new WalRecord("a", WalRecordKind.Accept, slot, 9, 2, new byte[100]), ct);
            }

            await wal.AppendAsync(new WalRecord("b", WalRecordKind.Accept, 7, 2, 1, new byte[10]), ct);
            // Slot 10 leaves every segment mostly needed, so background reclamation keeps all records in place.
            await wal.SaveSnapshotAsync("a", 10, new byte[] { 1 }, ct);
        }

        WalInspection inspection = WalInspector.Inspect(_dir);
        Assert.Equal(Directory.GetFiles(_dir, "wal-*.log").Length, inspection.Segments.Count);
        Assert.True(inspection.Segments.Count > 1);
        Assert.Equal(62, inspection.Segments.Sum(s => s.Records));
        Assert.Null(inspection.TornTail);

        WalGroupInfo a = inspection.Groups.Single(g => g.GroupId == "a");
        Assert.Equal(61, a.Records);
        Assert.Equal(51, a.RetainedRecords); // the HardState and slots 11..60
        Assert.Equal((1L, 60L), (a.MinSlot, a.MaxSlot));
        Assert.Equal((9L, 3), (a.MaxBallotRound, a.MaxBallotReplica));
        Assert.Equal(10, a.SnapshotSlot);
        Assert.Equal(60, a.RecordsByKind[WalRecordKind.Accept]);
        Assert.Equal(inspection.Segments.Count, a.Segments.Count);

        WalGroupInfo b = inspection.Groups.Single(g => g.GroupId == "b");
        Assert.Equal((1, 1, 7L, 7L, (long?)null), (b.Records, b.RetainedRecords, b.MinSlot, b.MaxSlot, b.SnapshotSlot));
        Assert.True(WalInspector.Verify(_dir).IsValid);
    }

    [Fact]
    public void A_missing_directory_is_bad_input()
    {
        Assert.Throws<DirectoryNotFoundException>(() => WalInspector.Inspect(_dir));
        Assert.Throws<DirectoryNotFoundException>(() => WalInspector.Verify(_dir));
    }

    public void Dispose()
    {
        if (Directory.Exists(_dir))
        {
            Directory.Delete(_dir, recursive: true);
        }
    }
}

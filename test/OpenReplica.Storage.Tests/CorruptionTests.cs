using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

public sealed class CorruptionTests
{
    [Fact]
    public async Task A_flipped_bit_anywhere_in_a_middle_record_stops_recovery_naming_file_and_offset()
    {
        var original = new FaultyFileSystem();
        await using (WriteAheadLog wal = Logs.Open(original))
        {
            for (int i = 1; i <= 5; i++)
            {
                await wal.AppendAsync(Logs.Accept("g", i), TestContext.Current.CancellationToken);
            }
        }

        string segment = Logs.LastSegment(original);
        byte[] image = original.ReadFile(segment);
        (int offset, int length) = Logs.RecordSpans(segment, image)[2];

        for (int at = offset; at < offset + length; at++)
        {
            FaultyFileSystem fs = original.Clone();
            byte[] damaged = image.ToArray();
            damaged[at] ^= 0x10;
            fs.ReplaceFile(segment, damaged);

            var ex = Assert.Throws<WalCorruptionException>(() => Logs.Open(fs));
            Assert.Equal(segment, ex.File);
            Assert.Equal(offset, ex.Offset);
            Assert.Contains(segment, ex.Message);
            Assert.Contains(offset.ToString(System.Globalization.CultureInfo.InvariantCulture), ex.Message);

            WalVerification verification = WalInspector.Verify(FaultyFileSystem.Dir, fs);
            Assert.False(verification.IsValid);
            Assert.Equal(new WalFileOffset(segment, offset), verification.Corruption);
        }
    }

    [Fact]
    public async Task A_bad_last_record_of_a_sealed_segment_is_corruption_not_a_torn_tail()
    {
        var fs = new FaultyFileSystem();
        await using (WriteAheadLog wal = Logs.Open(fs, segmentBytes: WalOptions.MinSegmentBytes))
        {
            for (int i = 1; i <= 200; i++)
            {
                await wal.AppendAsync(Logs.Accept("g", i, payloadBytes: 40), TestContext.Current.CancellationToken);
            }
        }

        IReadOnlyList<string> segments = fs.Files("wal-*.log");
        Assert.True(segments.Count >= 3);
        string sealedSegment = segments[0];
        byte[] image = fs.ReadFile(sealedSegment);
        (int offset, int _) = Logs.RecordSpans(sealedSegment, image)[^1];
        image[^1] ^= 0x01;
        fs.ReplaceFile(sealedSegment, image);

        var ex = Assert.Throws<WalCorruptionException>(() => Logs.Open(fs));
        Assert.Equal(sealedSegment, ex.File);
        Assert.Equal(offset, ex.Offset);
        Assert.Throws<WalCorruptionException>(() => WalInspector.Inspect(FaultyFileSystem.Dir, fs));
    }

    [Fact]
    public async Task A_sealed_segment_cut_short_is_corruption()
    {
        var fs = new FaultyFileSystem();
        await using (WriteAheadLog wal = Logs.Open(fs, segmentBytes: WalOptions.MinSegmentBytes))
        {
            for (int i = 1; i <= 200; i++)
            {
                await wal.AppendAsync(Logs.Accept("g", i, payloadBytes: 40), TestContext.Current.CancellationToken);
            }
        }

        string first = fs.Files("wal-*.log")[0];
        byte[] image = fs.ReadFile(first);
        (int offset, int _) = Logs.RecordSpans(first, image)[^1];
        fs.ReplaceFile(first, image[..^3]);

        var ex = Assert.Throws<WalCorruptionException>(() => Logs.Open(fs));
        Assert.Equal((first, (long)offset), (ex.File, ex.Offset));
    }

    [Fact]
    public async Task A_damaged_snapshot_stops_recovery()
    {
        var fs = new FaultyFileSystem();
        await using (WriteAheadLog wal = Logs.Open(fs))
        {
            await wal.SaveSnapshotAsync("g", 3, new byte[] { 1, 2, 3 }, TestContext.Current.CancellationToken);
        }

        string snapshot = fs.Files("snap-*.snap").Single();
        byte[] image = fs.ReadFile(snapshot);
        image[12] ^= 0xFF;
        fs.ReplaceFile(snapshot, image);

        var ex = Assert.Throws<WalCorruptionException>(() => Logs.Open(fs));
        Assert.Equal(snapshot, ex.File);
    }
}

using OpenReplica.Storage;

namespace OpenReplica.Storage.Tests;

public sealed class TornTailTests
{
    [Fact]
    public async Task Cutting_the_last_segment_anywhere_in_its_last_records_keeps_exactly_the_intact_prefix()
    {
        var original = new FaultyFileSystem();
        var written = Enumerable.Range(1, 12).Select(i => Logs.Accept(i % 2 == 0 ? "even" : "odd", i, payloadBytes: 5 + i)).ToList();
        await using (WriteAheadLog wal = Logs.Open(original))
        {
            foreach (WalRecord record in written)
            {
                await wal.AppendAsync(record, TestContext.Current.CancellationToken);
            }
        }

        string segment = Logs.LastSegment(original);
        byte[] image = original.ReadFile(segment);
        List<(int Offset, int Length)> spans = Logs.RecordSpans(segment, image);
        Assert.Equal(written.Count, spans.Count);

        int firstCut = spans[^3].Offset;
        for (int cut = firstCut; cut < image.Length; cut++)
        {
            int intact = spans.Count(s => s.Offset + s.Length <= cut);
            FaultyFileSystem fs = original.Clone();
            fs.ReplaceFile(segment, image[..cut]);

            WalRecord after = Logs.Accept("after", 1000 + cut);
            await using (WriteAheadLog wal = Logs.Open(fs))
            {
                Assert.Equal(Logs.Keys(written.Take(intact)), Logs.Keys(wal.ReadAll()));
                await wal.AppendAsync(after, TestContext.Current.CancellationToken);
            }

            await using (WriteAheadLog reopened = Logs.Open(fs))
            {
                Assert.Equal(Logs.Keys(written.Take(intact).Append(after)), Logs.Keys(reopened.ReadAll()));
            }
        }
    }

    [Fact]
    public async Task Garbage_after_the_last_record_is_a_torn_tail_and_is_cut()
    {
        var fs = new FaultyFileSystem();
        await using (WriteAheadLog wal = Logs.Open(fs))
        {
            await wal.AppendAsync(Logs.Accept("g", 1), TestContext.Current.CancellationToken);
        }

        string segment = Logs.LastSegment(fs);
        byte[] image = fs.ReadFile(segment);
        // A length prefix promising more bytes than exist, as a crash in the middle of a batch leaves.
        byte[] torn = [.. image, 200, 0, 0, 0, 1, 2, 3];
        fs.ReplaceFile(segment, torn);

        WalVerification verification = WalInspector.Verify(FaultyFileSystem.Dir, fs);
        Assert.True(verification.IsValid);
        Assert.Equal(new WalFileOffset(segment, image.Length), verification.TornTail);

        await using (WriteAheadLog wal = Logs.Open(fs))
        {
            Assert.Single(wal.ReadAll());
        }

        Assert.Equal(image.Length, fs.ReadFile(segment).Length);
    }

    [Fact]
    public async Task A_segment_whose_creation_was_torn_is_recreated()
    {
        var fs = new FaultyFileSystem();
        await using (WriteAheadLog wal = Logs.Open(fs))
        {
            await wal.AppendAsync(Logs.Accept("g", 1), TestContext.Current.CancellationToken);
        }

        string next = Path.Combine(FaultyFileSystem.Dir, "wal-0000000000000002.log");
        fs.ReplaceFile(next, [0x4F, 0x52, 0x57]);

        await using (WriteAheadLog wal = Logs.Open(fs))
        {
            Assert.Single(wal.ReadAll());
            await wal.AppendAsync(Logs.Accept("g", 2), TestContext.Current.CancellationToken);
        }

        await using WriteAheadLog reopened = Logs.Open(fs);
        Assert.Equal([1L, 2L], reopened.ReadAll().Select(r => r.Slot));
    }
}

using System.Text;
using OpenReplica.Storage;
using OpenReplica.Testing;

namespace OpenReplica.Storage.Tests;

/// <summary>
/// Hostile bytes for every decoder of the data directory: segment files whose records were mutated and then
/// re-sealed with a valid checksum (so the fields behind the CRC are reached), raw mutations of segment headers
/// and snapshot files, and damaged identity files. Recovery must either open the log (and then read every record)
/// or refuse with <see cref="WalCorruptionException"/>; identity files must be refused with
/// <see cref="InvalidDataException"/>. Never another exception. A failure names the seed and iteration.
/// </summary>
public sealed class HostileBytesTests
{
    private const int Iterations = 600;

    public static TheoryData<int> Seeds => new(11, 12);

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Mutated_and_resealed_wal_records_are_refused_as_corruption_or_read_whole(int seed)
    {
        var original = await WrittenLogAsync();
        string segment = Logs.LastSegment(original);
        byte[] image = original.ReadFile(segment);
        var spans = Logs.RecordSpans(segment, image);
        var corpus = spans.Select(s => image.AsSpan(s.Offset, s.Length).ToArray()).ToList();
        var mutator = new ByteMutator(seed);
        for (int i = 0; i < Iterations; i++)
        {
            var (offset, length) = spans[mutator.Random.Next(spans.Count)];
            byte[] record = mutator.Mutate(image.AsSpan(offset, length).ToArray(), corpus);
            if (record.Length >= 16 && mutator.Random.Next(4) != 0)
            {
                // Keep the length prefix honest and recompute the CRC, so the decoder gets past the checksum.
                System.Buffers.Binary.BinaryPrimitives.WriteUInt32LittleEndian(record, (uint)(record.Length - 8));
                RecordCodec.Seal(record, System.Buffers.Binary.BinaryPrimitives.ReadInt64LittleEndian(record.AsSpan(8)));
            }
            byte[] damaged = [.. image.AsSpan(0, offset), .. record, .. image.AsSpan(offset + length)];
            await OpenAndRead(original, segment, damaged, $"seed {seed} iteration {i}");
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public async Task Mutated_segment_headers_and_snapshot_files_are_refused_as_corruption_or_read_whole(int seed)
    {
        var original = await WrittenLogAsync();
        string segment = Logs.LastSegment(original);
        string snapshot = original.Files("snap-*.snap")[0];
        byte[] segmentImage = original.ReadFile(segment);
        byte[] snapshotImage = original.ReadFile(snapshot);
        var mutator = new ByteMutator(seed);
        for (int i = 0; i < Iterations; i++)
        {
            if (i % 2 == 0)
            {
                byte[] header = mutator.Mutate(segmentImage.AsSpan(0, SegmentHeader.Size).ToArray(), []);
                await OpenAndRead(original, segment, [.. header, .. segmentImage.AsSpan(SegmentHeader.Size)], $"seed {seed} iteration {i} (segment header)");
            }
            else
            {
                await OpenAndRead(original, snapshot, mutator.Mutate(snapshotImage, [segmentImage]), $"seed {seed} iteration {i} (snapshot)");
            }
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Damaged_identity_files_are_refused_with_a_message_naming_the_file(int seed)
    {
        string root = Path.Combine(Path.GetTempPath(), "openreplica-fuzz-" + Guid.NewGuid().ToString("N"));
        try
        {
            var valid = Encoding.UTF8.GetBytes($"openreplica-replica-id-v1\n{Guid.NewGuid():D}\n");
            var mutator = new ByteMutator(seed);
            for (int i = 0; i < Iterations; i++)
            {
                string directory = Path.Combine(root, i.ToString(System.Globalization.CultureInfo.InvariantCulture));
                Directory.CreateDirectory(directory);
                byte[] content = mutator.Mutate(valid, []);
                File.WriteAllBytes(Path.Combine(directory, ReplicaIdentity.FileName), content);
                try
                {
                    var identity = ReplicaIdentity.LoadOrCreate(directory);
                    Assert.False(identity.CreatedNow, $"seed {seed} iteration {i}: a damaged identity was replaced by a new one");
                }
                catch (InvalidDataException e)
                {
                    Assert.Contains(ReplicaIdentity.FileName, e.Message);
                }
                catch (Exception e)
                {
                    Assert.Fail($"seed {seed} iteration {i}: {e.GetType().Name} for {Convert.ToHexString(content)}: {e}");
                }
            }
        }
        finally
        {
            Directory.Delete(root, recursive: true);
        }
    }

    private static async Task OpenAndRead(FaultyFileSystem original, string file, byte[] damaged, string where)
    {
        FaultyFileSystem fs = original.Clone();
        fs.ReplaceFile(file, damaged);
        try
        {
            await using var wal = Logs.Open(fs);
            int records = wal.ReadAll().Count();
            Assert.True(records >= 0);
        }
        catch (WalCorruptionException e)
        {
            Assert.Contains(Path.GetFileName(e.File), e.Message);
        }
        catch (Exception e)
        {
            Assert.Fail($"{where}: {e.GetType().Name} instead of WalCorruptionException for {file}: {e}");
        }
    }

    private static async Task<FaultyFileSystem> WrittenLogAsync()
    {
        var fs = new FaultyFileSystem();
        await using (WriteAheadLog wal = Logs.Open(fs))
        {
            for (int i = 1; i <= 6; i++)
            {
                await wal.AppendAsync(Logs.Accept(i % 2 == 0 ? "g" : "h", i), TestContext.Current.CancellationToken);
            }
            await wal.AppendAsync(Logs.HardState("g", 3), TestContext.Current.CancellationToken);
            await wal.SaveSnapshotAsync("g", 2, new byte[] { 1, 2, 3 }, TestContext.Current.CancellationToken);
        }
        return fs;
    }
}

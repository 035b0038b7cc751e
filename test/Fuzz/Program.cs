using System.Buffers.Binary;
using System.Text;
using OpenReplica.Checker;
using OpenReplica.Consensus;
using OpenReplica.Fuzz;
using OpenReplica.Storage;
using SharpFuzz;

// AFL harness (SharpFuzz) for the decoders that read bytes a peer, a disk or a user hands us. Each target accepts any
// input: a refusal must be the decoder's documented exception; anything else (an IndexOutOfRangeException, an
// unstable round trip, a hang) escapes and AFL records the input as a crash. test/Fuzz/run.sh builds, instruments and
// runs it; `dotnet Fuzz.dll <target> --seeds DIR` writes a starting corpus; `dotnet Fuzz.dll <target> --replay FILE`
// runs one input outside AFL (to see a crash's exception).
if (args.Length < 1 || !Targets.All.TryGetValue(args[0], out var target))
{
    Console.Error.WriteLine($"usage: Fuzz <{string.Join("|", Targets.All.Keys)}> [--seeds DIR | --replay FILE]");
    return 2;
}
if (args.Length == 3 && args[1] == "--seeds")
{
    Directory.CreateDirectory(args[2]);
    int n = 0;
    foreach (var seed in Seeds.For(args[0])) File.WriteAllBytes(Path.Combine(args[2], $"seed-{n++:000}"), seed);
    Console.WriteLine($"{n} seeds written to {args[2]}");
    return 0;
}
if (args.Length == 3 && args[1] == "--replay")
{
    target(File.ReadAllBytes(args[2]));
    Console.WriteLine("no crash");
    return 0;
}
Fuzzer.OutOfProcess.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    target(buffer.ToArray());
});
return 0;

namespace OpenReplica.Fuzz
{
    internal static class Targets
    {
        public static readonly IReadOnlyDictionary<string, Action<byte[]>> All = new Dictionary<string, Action<byte[]>>
        {
            ["wire"] = Wire,
            ["segment"] = Segment,
            ["history"] = History,
        };

        /// <summary>
        /// The consensus wire codec (messages from peers; entries, hard states, snapshots and configurations from the
        /// WAL): the first byte picks the decoder. A refusal is a FormatException; a value must re-encode to bytes
        /// that decode to the same encoding.
        /// </summary>
        private static void Wire(byte[] input)
        {
            if (input.Length == 0) return;
            Func<byte[], byte[]> roundTrip = (input[0] % 5) switch
            {
                0 => b => WireCodec.Encode(WireCodec.DecodeMessage(b)),
                1 => b => WireCodec.Encode(WireCodec.DecodeEntry(b)),
                2 => b => WireCodec.Encode(WireCodec.DecodeHardState(b)),
                3 => b => WireCodec.Encode(WireCodec.DecodeSnapshot(b)),
                _ => b => WireCodec.Encode(WireCodec.DecodeConfig(b)),
            };
            try
            {
                byte[] encoded = roundTrip(input[1..]);
                if (!encoded.AsSpan().SequenceEqual(roundTrip(encoded))) throw new InvalidOperationException("unstable round trip");
            }
            catch (FormatException)
            {
                // refused: fine
            }
        }

        /// <summary>
        /// A WAL segment file as recovery reads it. Record checksums are recomputed first (a fuzzer cannot forge a
        /// CRC-32C), so the structure behind them is explored: lengths, kinds, group ids, torn tails. The first byte
        /// says whether it is the last segment. A refusal is a WalCorruptionException; a scan must account for every
        /// byte up to its valid length with records that lie inside it.
        /// </summary>
        private static void Segment(byte[] input)
        {
            if (input.Length == 0) return;
            bool isLast = (input[0] & 1) == 1;
            byte[] data = SealRecords(input.AsSpan(1).ToArray());
            try
            {
                var segment = SegmentScanner.Scan(1, "fuzz.wal", data, isLast);
                long end = SegmentHeader.Size;
                foreach (var record in segment.Records)
                {
                    if (record.Offset != end || record.Header.Length <= 0) throw new InvalidOperationException($"record at {record.Offset} does not follow the previous one (expected {end})");
                    end += record.Header.Length;
                }
                if (segment.BaseLsn is not null && end != segment.ValidLength) throw new InvalidOperationException($"records end at {end}, valid length {segment.ValidLength}");
                if (segment.ValidLength > data.Length) throw new InvalidOperationException("valid length beyond the data");
            }
            catch (WalCorruptionException)
            {
                // refused: fine
            }
        }

        /// <summary>Rewrites the header's and each record's checksum, walking records by their length fields.</summary>
        private static byte[] SealRecords(byte[] data)
        {
            if (data.Length < SegmentHeader.Size) return data;
            BinaryPrimitives.WriteUInt32LittleEndian(data.AsSpan(24), Crc32C.Compute(data.AsSpan(0, 24)));
            int position = SegmentHeader.Size;
            while (position + RecordCodec.PrefixSize <= data.Length)
            {
                uint bodyLength = BinaryPrimitives.ReadUInt32LittleEndian(data.AsSpan(position));
                if (bodyLength < RecordCodec.FixedBodySize || position + RecordCodec.PrefixSize + (long)bodyLength > data.Length) break;
                int total = RecordCodec.PrefixSize + (int)bodyLength;
                var span = data.AsSpan(position, total);
                BinaryPrimitives.WriteUInt32LittleEndian(span[4..], Crc32C.Compute(span[..4], span[RecordCodec.PrefixSize..]));
                position += total;
            }
            return data;
        }

        /// <summary>The checker's history readers (files users hand the CLI): the first byte picks EDN or JSON lines.</summary>
        private static void History(byte[] input)
        {
            if (input.Length == 0) return;
            string text = Encoding.UTF8.GetString(input, 1, input.Length - 1);
            try
            {
                if ((input[0] & 1) == 0) EdnHistoryReader.ReadRegister(new StringReader(text), "fuzz.edn");
                else HistoryReader.ReadRegister(new StringReader(text), "fuzz.jsonl");
            }
            catch (FormatException)
            {
                // refused (HistoryFormatException): fine
            }
        }
    }

    /// <summary>Valid inputs to start from: each target's own encoder's output.</summary>
    internal static class Seeds
    {
        public static IEnumerable<byte[]> For(string target) => target switch
        {
            "wire" => Wire(),
            "segment" => Segment(),
            _ => History(),
        };

        private static IEnumerable<byte[]> Wire()
        {
            var ballot = new Ballot(3, 2);
            var entry = new LogEntry(7, ballot, LogValue.Noop, Chosen: true);
            var config = new ClusterConfig([1, 2, 3]);
            yield return [0, .. WireCodec.Encode(new Prepare(1, 2, ballot, 4))];
            yield return [0, .. WireCodec.Encode(new Accept(1, 2, ballot, [entry], 6))];
            yield return [0, .. WireCodec.Encode(new Accepted(2, 1, ballot, [7, 8]))];
            yield return [0, .. WireCodec.Encode(new Heartbeat(1, 3, ballot, 6, 9))];
            yield return [0, .. WireCodec.Encode(new CatchUpRequest(3, 1, 2, 9))];
            yield return [1, .. WireCodec.Encode(entry)];
            yield return [2, .. WireCodec.Encode(new HardState(ballot, 6))];
            yield return [4, .. WireCodec.Encode(config)];
        }

        private static IEnumerable<byte[]> Segment()
        {
            var segment = new List<byte>(SegmentHeader.Create(100));
            foreach (var (group, slot) in new[] { ("account/a", 1L), ("account/b", 2L) })
            {
                var record = RecordCodec.Encode(new WalRecord(group, WalRecordKind.Accept, slot, 3, 2, new byte[] { 1, 2, 3, 4 }));
                RecordCodec.Seal(record, 100 + slot);
                segment.AddRange(record);
            }
            yield return [1, .. segment];
            yield return [0, .. segment];
        }

        private static IEnumerable<byte[]> History()
        {
            yield return [0, .. Encoding.UTF8.GetBytes("{:type :invoke, :f :write, :value 1, :process 0, :time 1, :index 0}\n{:type :ok, :f :write, :value 1, :process 0, :time 2, :index 1}\n")];
            yield return [1, .. Encoding.UTF8.GetBytes("{\"process\":0,\"type\":\"invoke\",\"f\":\"read\",\"value\":null,\"time\":1}\n{\"process\":0,\"type\":\"ok\",\"f\":\"read\",\"value\":3,\"time\":2}\n")];
        }
    }
}

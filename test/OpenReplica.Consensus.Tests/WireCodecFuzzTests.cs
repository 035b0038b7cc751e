using OpenReplica.Testing;

namespace OpenReplica.Consensus.Tests;

/// <summary>
/// Hostile bytes for every decoder of <see cref="WireCodec"/>: seeded mutations of valid messages, entries, hard
/// states, snapshots and configurations. Each input must either be refused with a <see cref="FormatException"/> or
/// decode to a value that re-encodes to a stable form; a decoded message stepped into a replica must not break it.
/// A failure names the seed and iteration, so it replays.
/// </summary>
public sealed class WireCodecFuzzTests
{
    private const int Iterations = 4_000;

    public static TheoryData<int> Seeds => new(1, 2, 3);

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Mutated_messages_are_refused_or_decode_to_a_stable_message_that_no_replica_chokes_on(int seed)
    {
        var mutator = new ByteMutator(seed);
        var corpus = Enumerable.Range(0, 64).Select(_ => WireCodec.Encode(RandomMessage(mutator.Random))).ToList();
        for (int i = 0; i < Iterations; i++)
        {
            byte[] input = mutator.Mutate(corpus[i % corpus.Count], corpus);
            Message message;
            try
            {
                message = WireCodec.DecodeMessage(input);
            }
            catch (FormatException)
            {
                continue;
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {seed} iteration {i}: {e.GetType().Name} instead of FormatException for {Convert.ToHexString(input)}: {e}");
                return;
            }

            byte[] again = WireCodec.Encode(message);
            Assert.True(again.AsSpan().SequenceEqual(WireCodec.Encode(WireCodec.DecodeMessage(again))), $"seed {seed} iteration {i}: unstable round trip");
            StepIntoReplica(message, seed, i, input);
        }
    }

    [Theory]
    [MemberData(nameof(Seeds))]
    public void Mutated_entries_hard_states_snapshots_and_configs_are_refused_or_decode(int seed)
    {
        var mutator = new ByteMutator(seed);
        var random = mutator.Random;
        var corpus = new List<(byte[] Bytes, Func<byte[], object> Decode)>();
        for (int i = 0; i < 16; i++)
        {
            corpus.Add((WireCodec.Encode(RandomEntry(random)), b => WireCodec.DecodeEntry(b)));
            corpus.Add((WireCodec.Encode(new HardState(RandomBallot(random), random.NextInt64(0, 100))), b => WireCodec.DecodeHardState(b)));
            corpus.Add((WireCodec.Encode(RandomSnapshot(random)), b => WireCodec.DecodeSnapshot(b)));
            corpus.Add((WireCodec.Encode(RandomConfig(random)), b => WireCodec.DecodeConfig(b)));
        }
        var samples = corpus.Select(c => c.Bytes).ToList();
        for (int i = 0; i < Iterations; i++)
        {
            var (bytes, decode) = corpus[i % corpus.Count];
            byte[] input = mutator.Mutate(bytes, samples);
            try
            {
                decode(input);
            }
            catch (FormatException)
            {
            }
            catch (Exception e)
            {
                Assert.Fail($"seed {seed} iteration {i}: {e.GetType().Name} instead of FormatException for {Convert.ToHexString(input)}: {e}");
            }
        }
    }

    /// <summary>A decodable message, however odd, is an input like any other: a replica may ignore it, never fail.</summary>
    private static void StepIntoReplica(Message message, int seed, int iteration, byte[] input)
    {
        var replica = new PaxosReplica(new ReplicaOptions { ReplicaId = 1, InitialConfig = new ClusterConfig([1, 2, 3]), ElectionTimeoutTicks = 0 });
        replica.Start();
        try
        {
            replica.Step(message with { To = 1 });
        }
        catch (Exception e)
        {
            Assert.Fail($"seed {seed} iteration {iteration}: stepping {message} threw {e.GetType().Name} (input {Convert.ToHexString(input)}): {e}");
        }
    }

    private static Message RandomMessage(Random r)
    {
        long from = r.Next(1, 4), to = r.Next(1, 4);
        return r.Next(11) switch
        {
            0 => new Prepare(from, to, RandomBallot(r), r.Next(0, 20)),
            1 => new Promise(from, to, RandomBallot(r), r.Next(0, 20), r.Next(0, 5), RandomEntries(r)),
            2 => new Accept(from, to, RandomBallot(r), RandomEntries(r), r.Next(0, 20)),
            3 => new Accepted(from, to, RandomBallot(r), Enumerable.Range(1, r.Next(4)).Select(s => (long)s).ToArray()),
            4 => new Rejected(from, to, RandomBallot(r)),
            5 => new Heartbeat(from, to, RandomBallot(r), r.Next(0, 20), r.Next(0, 9)),
            6 => new HeartbeatAck(from, to, RandomBallot(r), r.Next(0, 9), r.Next(0, 20)),
            7 => new CatchUpRequest(from, to, r.Next(1, 10), r.Next(10, 20)),
            8 => new CatchUpResponse(from, to, RandomEntries(r), r.Next(0, 20)),
            9 => new LeaseRelease(from, to, RandomBallot(r)),
            _ => new InstallSnapshot(from, to, RandomSnapshot(r)),
        };
    }

    private static Ballot RandomBallot(Random r) => new(r.Next(0, 5), r.Next(1, 4));

    private static List<LogEntry> RandomEntries(Random r)
    {
        long first = r.Next(1, 10);
        return Enumerable.Range(0, r.Next(4)).Select(i => RandomEntry(r) with { Slot = first + i }).ToList();
    }

    private static LogEntry RandomEntry(Random r)
    {
        var value = r.Next(3) switch
        {
            0 => LogValue.Noop,
            1 => LogValue.ConfigChange(RandomConfig(r)),
            _ => LogValue.Batch(Enumerable.Range(0, 1 + r.Next(3)).Select(s => new Command(Guid.NewGuid(), s + 1, 1, RandomBytes(r, 8))).ToList()),
        };
        return new LogEntry(r.Next(1, 30), RandomBallot(r), value, r.Next(2) == 0);
    }

    private static ClusterConfig RandomConfig(Random r) => new(Enumerable.Range(1, 1 + r.Next(5)).Select(m => (long)m));

    private static Snapshot RandomSnapshot(Random r)
    {
        var configs = ConfigHistory.FromEpochs([(0, RandomConfig(r)), (r.Next(1, 10), RandomConfig(r))]);
        var rows = Enumerable.Range(0, r.Next(3)).Select(_ => new SessionRow(Guid.NewGuid(), 1, r.Next(1, 9), [r.Next(1, 5)])).ToList();
        return new Snapshot(r.Next(0, 20), configs, SessionTable.FromRows(rows), RandomBytes(r, 16));
    }

    private static byte[] RandomBytes(Random r, int max)
    {
        var bytes = new byte[r.Next(max + 1)];
        r.NextBytes(bytes);
        return bytes;
    }
}

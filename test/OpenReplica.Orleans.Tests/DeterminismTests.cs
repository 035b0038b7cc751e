using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

public sealed class DeterminismTests
{
    private static readonly CommandPosition Position = new(17, new DateTimeOffset(2025, 1, 2, 3, 4, 5, TimeSpan.Zero));

    [Fact]
    public void Replicated_context_is_a_function_of_slot_and_timestamp()
    {
        var a = new ReplicatedContext(Position);
        var b = new ReplicatedContext(Position);

        Assert.Equal(Position.Timestamp, a.Now);
        Assert.Equal(17, a.Slot);
        Assert.Equal(a.NewGuid(), b.NewGuid());
        Assert.Equal(a.Random.Next(), b.Random.Next());
        Assert.Equal(a.Random.NextDouble(), b.Random.NextDouble());

        var otherSlot = new ReplicatedContext(Position with { Slot = 18 });
        Assert.NotEqual(new ReplicatedContext(Position).NewGuid(), otherSlot.NewGuid());
    }

    [Fact]
    public void Guids_are_version_4()
    {
        var guid = new ReplicatedContext(Position).NewGuid();
        Assert.Equal(4, guid.Version);
        Assert.Equal('4', guid.ToString("D")[14]);
    }

    [Fact]
    public void Replicated_random_is_pinned_to_its_algorithm()
    {
        // SplitMix64 reference output for seed 0 (as published with the algorithm).
        var random = new ReplicatedRandom(0);
        Assert.Equal(0xE220A8397B1DCDAFUL, random.NextUInt64());
        Assert.Equal(0x6E789E6AA1B965F4UL, random.NextUInt64());
    }

    [Fact]
    public void Replicated_random_respects_bounds()
    {
        var random = new ReplicatedRandom(99);
        for (var i = 0; i < 10_000; i++)
        {
            Assert.InRange(random.Next(-5, 5), -5, 4);
            Assert.InRange(random.Next(3), 0, 2);
            Assert.InRange(random.NextDouble(), 0.0, 0.9999999999999999);
            Assert.InRange(random.NextInt64(long.MinValue, long.MaxValue), long.MinValue, long.MaxValue - 1);
        }
    }

    [Fact]
    public void Stamp_source_tracks_the_first_unacknowledged_sequence()
    {
        var source = new CallStampSource();
        var first = source.Begin();
        var second = source.Begin();
        Assert.Equal((1L, 1L), (first.Sequence, first.FirstUnacknowledged));
        Assert.Equal((2L, 1L), (second.Sequence, second.FirstUnacknowledged));

        source.Complete(first);
        var third = source.Begin();
        Assert.Equal((3L, 2L), (third.Sequence, third.FirstUnacknowledged));

        source.Complete(second);
        source.Complete(third);
        Assert.Equal(4, source.FirstUnacknowledged);
        Assert.All([first, second, third], s => Assert.Equal(source.ClientId, s.ClientId));
    }

    [Fact]
    public void Retry_backoff_doubles_up_to_the_cap_with_jitter_in_the_upper_half()
    {
        var policy = new CallRetryPolicy(new ReplicatedClientOptions
        {
            InitialBackoff = TimeSpan.FromMilliseconds(100),
            MaxBackoff = TimeSpan.FromMilliseconds(350),
        });
        var random = new Random(7);
        double[] ceilings = [100, 200, 350, 350, 350];
        for (int attempt = 0; attempt < ceilings.Length; attempt++)
        {
            var waits = Enumerable.Range(0, 200).Select(_ => policy.Backoff(attempt, random).TotalMilliseconds).ToList();
            Assert.All(waits, w => Assert.InRange(w, ceilings[attempt] / 2, ceilings[attempt]));
            Assert.True(waits.Distinct().Count() > 50, $"attempt {attempt}: the waits are not spread: {string.Join(", ", waits.Distinct().Take(5))}");
        }
    }

    [Fact]
    public void Failures_that_leave_the_outcome_open_are_retried_and_definite_ones_are_not()
    {
        Exception[] open =
        [
            new TimeoutException(), new SiloUnavailableException(), new global::Orleans.Runtime.Messaging.ConnectionFailedException("refused"),
            new GatewayTooBusyException(), new SiloUnavailableException("gateway shutting down"), new OperationCanceledException(),
            new ReplicaUnavailableException("no majority"), new ReplicaSetUnavailableException("no replica silo"),
        ];
        Exception[] definite = [new InvalidOperationException(), new ArgumentException("bad"), new CounterRejectedException("no"), new OrleansException("other")];
        Assert.All(open, e => Assert.True(CallRetryPolicy.IsRetriable(e), e.GetType().Name));
        Assert.All(definite, e => Assert.False(CallRetryPolicy.IsRetriable(e), e.GetType().Name));
    }
}

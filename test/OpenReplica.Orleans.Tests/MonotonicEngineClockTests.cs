using Microsoft.Extensions.Time.Testing;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>The engine's clock reads a TimeProvider's timestamps as milliseconds, exactly, after any uptime.</summary>
public sealed class MonotonicEngineClockTests
{
    [Fact]
    public void It_counts_the_providers_time_in_milliseconds()
    {
        var time = new FakeTimeProvider();
        var clock = new MonotonicEngineClock(time);
        long before = clock.Now;
        time.Advance(TimeSpan.FromMilliseconds(1500));
        Assert.Equal(before + 1500, clock.Now);
    }

    [Theory]
    [InlineData(1_000_000_000)] // nanoseconds (Linux): whole ticks per millisecond
    [InlineData(1_024_000_007)] // not: the Int128 path
    public void A_clock_after_two_hundred_days_of_uptime_does_not_overflow(long frequency)
    {
        var uptime = TimeSpan.FromDays(200); // 1.7e16 ns: times 1,000 would overflow a long
        var clock = new MonotonicEngineClock(new FixedClock(frequency, (long)uptime.TotalSeconds * frequency));
        Assert.Equal((long)uptime.TotalMilliseconds, clock.Now);
    }

    private sealed class FixedClock(long frequency, long timestamp) : TimeProvider
    {
        public override long TimestampFrequency => frequency;

        public override long GetTimestamp() => timestamp;
    }
}

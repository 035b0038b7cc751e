using Microsoft.Extensions.Time.Testing;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>The time an activation stamps on its calls does not follow a wall clock stepped forward.</summary>
public sealed class EntryClockTests
{
    /// <summary>A wall clock stepped without the monotonic clock moving (what an NTP step or libfaketime does).</summary>
    private sealed class SteppableClock(FakeTimeProvider real) : TimeProvider
    {
        public TimeSpan Step { get; set; }

        public override DateTimeOffset GetUtcNow() => real.GetUtcNow() + Step;

        public override long GetTimestamp() => real.GetTimestamp();

        public override long TimestampFrequency => real.TimestampFrequency;
    }

    [Fact]
    public void A_wall_clock_stepped_forward_moves_entry_time_only_by_the_real_time_elapsed()
    {
        var (real, wall, clock) = Start();
        var first = clock.Now();
        Assert.Equal(real.GetUtcNow(), first);

        wall.Step = TimeSpan.FromSeconds(330);
        real.Advance(TimeSpan.FromMilliseconds(50));
        AssertAbout(first + TimeSpan.FromMilliseconds(50), clock.Now());
        real.Advance(TimeSpan.FromSeconds(2));
        AssertAbout(first + TimeSpan.FromMilliseconds(2050), clock.Now());
    }

    private static (FakeTimeProvider Real, SteppableClock Wall, EntryClock Clock) Start()
    {
        var real = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero));
        var wall = new SteppableClock(real);
        return (real, wall, new EntryClock(wall));
    }

    /// <summary>Real time elapsed since <paramref name="expected"/>'s origin, with at most the clock's slack of a thousandth.</summary>
    private static void AssertAbout(DateTimeOffset expected, DateTimeOffset actual)
    {
        Assert.InRange(actual, expected, expected + TimeSpan.FromMilliseconds(3));
    }

    [Fact]
    public void A_wall_clock_stepped_back_is_followed_and_so_is_its_return()
    {
        var (real, wall, clock) = Start();
        var first = clock.Now();

        wall.Step = -TimeSpan.FromMinutes(1);
        real.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(first + TimeSpan.FromSeconds(1) - TimeSpan.FromMinutes(1), clock.Now());

        // The step is undone: the wall clock is back on the line of the latest stamp, and followed again.
        wall.Step = TimeSpan.Zero;
        real.Advance(TimeSpan.FromSeconds(1));
        Assert.Equal(real.GetUtcNow(), clock.Now());
        Assert.Equal(first + TimeSpan.FromSeconds(2), real.GetUtcNow());
    }

    [Fact]
    public void Without_steps_entry_time_is_the_wall_clock()
    {
        var real = new FakeTimeProvider(new DateTimeOffset(2026, 12, 3, 9, 0, 0, TimeSpan.Zero));
        var clock = new EntryClock(real);
        for (int i = 0; i < 5; i++)
        {
            Assert.Equal(real.GetUtcNow(), clock.Now());
            real.Advance(TimeSpan.FromMilliseconds(7));
        }
    }
}

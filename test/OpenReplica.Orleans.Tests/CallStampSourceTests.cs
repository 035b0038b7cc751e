using Microsoft.Extensions.Time.Testing;

namespace OpenReplica.Orleans.Tests;

/// <summary>The stamp source's floor (first unacknowledged sequence): completed calls release it, abandoned ones hold it for the resolution window.</summary>
public sealed class CallStampSourceTests
{
    [Fact]
    public void An_abandoned_call_holds_the_floor_until_its_window_passes_and_a_completed_one_does_not()
    {
        var time = new FakeTimeProvider();
        var source = new CallStampSource(time);
        var first = source.Begin();
        var second = source.Begin();
        Assert.Equal(1, second.FirstUnacknowledged);

        source.Abandon(first, TimeSpan.FromMinutes(5));
        source.Complete(second);
        Assert.Equal(1, source.FirstUnacknowledged); // the abandoned stamp is still answerable by its grain
        Assert.Equal(1, source.Begin().FirstUnacknowledged);

        time.Advance(TimeSpan.FromMinutes(5));
        Assert.Equal(3, source.FirstUnacknowledged); // window over: only the third call (in flight) holds the floor
    }

    [Fact]
    public void A_zero_window_acknowledges_at_once_and_at_most_the_newest_abandoned_stamps_are_held()
    {
        var time = new FakeTimeProvider();
        var source = new CallStampSource(time);
        source.Abandon(source.Begin(), TimeSpan.Zero);
        Assert.Equal(2, source.FirstUnacknowledged);

        var stamps = Enumerable.Range(0, CallStampSource.MaxAbandoned + 10).Select(_ => source.Begin()).ToList();
        foreach (var stamp in stamps) source.Abandon(stamp, TimeSpan.FromMinutes(5));
        Assert.Equal(stamps[10].Sequence, source.FirstUnacknowledged);
    }
}

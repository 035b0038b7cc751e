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
    public void Pending_age_is_read_without_marking_the_attempt_and_a_new_attempt_starts_it_again()
    {
        var time = new FakeTimeProvider();
        var source = new CallStampSource(time);
        var stamp = source.Begin();
        var age = TimeSpan.FromSeconds(2);
        Assert.False(source.AnyPendingLongerThan(age));
        Assert.False(source.PendingLongerThan(stamp, age));

        time.Advance(TimeSpan.FromSeconds(3));
        Assert.True(source.AnyPendingLongerThan(age));
        Assert.True(source.PendingLongerThan(stamp, age));
        Assert.False(source.TakeEndedEarly(stamp)); // reading the age marks nothing

        source.AttemptStarted(stamp);
        Assert.False(source.PendingLongerThan(stamp, age));
        Assert.False(source.AnyPendingLongerThan(age));

        time.Advance(TimeSpan.FromSeconds(3));
        Assert.False(source.PendingLongerThan(new CallStamp(Guid.NewGuid(), stamp.Sequence, 1), age)); // another session's stamp
        source.Complete(stamp);
        Assert.False(source.PendingLongerThan(stamp, age));
        Assert.False(source.AnyPendingLongerThan(age));
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

    [Fact]
    public void Only_an_attempt_older_than_the_age_is_ended_early_and_the_mark_is_taken_once_and_cleared_by_the_next_attempt()
    {
        var time = new FakeTimeProvider();
        var source = new CallStampSource(time);
        var call = source.Begin();
        var foreign = new CallStamp(Guid.NewGuid(), call.Sequence, call.FirstUnacknowledged);

        Assert.False(source.EndEarly(call, TimeSpan.FromMilliseconds(500))); // just sent: left alone
        Assert.False(source.TakeEndedEarly(call));
        time.Advance(TimeSpan.FromMilliseconds(501));
        Assert.False(source.EndEarly(foreign, TimeSpan.FromMilliseconds(500))); // another session's stamp: never this client's to end
        Assert.True(source.EndEarly(call, TimeSpan.FromMilliseconds(500)));
        Assert.True(source.TakeEndedEarly(call)); // its failure was this client's doing: retried without backoff
        Assert.False(source.TakeEndedEarly(call)); // a later failure of the same attempt is the cluster's

        Assert.True(source.EndEarly(call)); // no age: any attempt in flight (the gateway it may have used is gone)
        source.AttemptStarted(call);
        Assert.False(source.TakeEndedEarly(call)); // the new attempt was not ended by anyone
        source.Complete(call);
        Assert.False(source.EndEarly(call)); // a completed call has nothing to end
    }

    [Fact]
    public void A_call_whose_attempts_keep_going_stale_may_pend_longer_each_time_up_to_four_times_the_age()
    {
        var time = new FakeTimeProvider();
        var source = new CallStampSource(time);
        var age = TimeSpan.FromMilliseconds(500);
        var call = source.Begin();
        var other = source.Begin();

        // Pending age before each successive attempt is ended for its age: 0.5 s twice (routing), then 1 s, 2 s, 2 s.
        foreach (var allowed in new[] { 500, 500, 1000, 2000, 2000 })
        {
            time.Advance(TimeSpan.FromMilliseconds(allowed));
            Assert.False(source.EndEarly(call, age)); // exactly the allowed age: left alone
            time.Advance(TimeSpan.FromMilliseconds(1));
            Assert.True(source.EndEarly(call, age));
            Assert.True(source.TakeEndedEarly(call));
            source.AttemptStarted(call);
            source.AttemptStarted(other); // the other call is never ended here: its count stays at zero
        }

        time.Advance(TimeSpan.FromMilliseconds(501));
        Assert.True(source.EndEarly(other, age)); // another call's stale ends do not lengthen this one's
        Assert.True(source.EndEarly(call)); // a gateway loss ends any attempt at once, whatever its count
        Assert.True(source.TakeEndedEarly(call));
        source.AttemptStarted(call);
        time.Advance(TimeSpan.FromMilliseconds(1500));
        Assert.False(source.EndEarly(call, age)); // and does not reset it: still four times the age
    }
}

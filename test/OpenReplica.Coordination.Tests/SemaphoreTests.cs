namespace OpenReplica.Coordination.Tests;

[Collection(CoordinationCollection.Name)]
public sealed class SemaphoreTests(CoordinationClusterFixture fixture)
{
    private ISemaphoreGrain Sem(int session, string key) => fixture.Sessions[session].GetGrain<ISemaphoreGrain>(key);

    private IBoundedSemaphoreGrain Bounded(int session, string key) => fixture.Sessions[session].GetGrain<IBoundedSemaphoreGrain>(key);

    [Fact]
    public async Task Permits_are_taken_until_none_are_left_then_callers_wait_in_fifo_order()
    {
        const string key = "sem-fifo";
        await Sem(0, key).Initialize(2);
        await Sem(0, key).Initialize(2); // idempotent
        await Sem(0, key).Acquire();
        Assert.True(await Sem(1, key).TryAcquire(TimeSpan.Zero));
        Assert.Equal(0, await Sem(0, key).CurrentCount());

        var first = Sem(2, key).Acquire();
        await Poll.UntilAsync(async () => await Sem(0, key).WaitingCount() == 1, "first waiter queued");
        var second = Sem(3, key).TryAcquire(TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(async () => await Sem(0, key).WaitingCount() == 2, "second waiter queued");

        Assert.Equal(0, await Sem(0, key).Release()); // returns the count before the release
        await first.Within();
        Assert.False(second.IsCompleted);
        Assert.Equal(0, await Sem(1, key).Release());
        Assert.True(await second.Within());
        Assert.Equal(0, await Sem(0, key).CurrentCount());

        Assert.Equal(0, await Sem(2, key).Release());
        Assert.Equal(1, await Sem(3, key).Release());
        Assert.Equal(2, await Sem(0, key).CurrentCount());
    }

    [Fact]
    public async Task Release_of_several_permits_wakes_several_waiters_and_a_plain_semaphore_may_grow()
    {
        const string key = "sem-signal";
        await Sem(0, key).Initialize(0);
        var waits = new[] { Sem(1, key).Acquire(), Sem(2, key).Acquire() };
        await Poll.UntilAsync(async () => await Sem(0, key).WaitingCount() == 2, "two waiters queued");
        Assert.Equal(0, await Sem(0, key).Release(3)); // a release without holding signals, as SemaphoreSlim allows
        await Task.WhenAll(waits).Within();
        Assert.Equal(1, await Sem(0, key).CurrentCount());
    }

    [Fact]
    public async Task TryAcquire_times_out_by_log_time()
    {
        const string key = "sem-timeout";
        await Sem(0, key).Initialize(1);
        await Sem(1, key).Acquire();
        Assert.False(await Sem(0, key).TryAcquire(TimeSpan.Zero));
        Assert.False(await Sem(0, key).TryAcquire(TimeSpan.FromMilliseconds(300)).Within());
        Assert.Equal(0, await Sem(0, key).WaitingCount());
        await Sem(1, key).Release();
        Assert.True(await Sem(0, key).TryAcquire(TimeSpan.Zero));
        await Sem(0, key).Release();
    }

    [Fact]
    public async Task The_initial_count_defaults_to_one()
    {
        const string key = "sem-default";
        Assert.Equal(1, await Sem(0, key).CurrentCount());
        await Sem(0, key).Acquire();
        Assert.False(await Sem(1, key).TryAcquire(TimeSpan.Zero));
        await Sem(0, key).Release();
        await Assert.ThrowsAsync<InvalidOperationException>(() => Sem(0, key).Initialize(5));
    }

    [Fact]
    public async Task Misuse_throws_clear_exceptions()
    {
        const string key = "sem-misuse";
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Sem(0, key).Initialize(-1));
        await Sem(0, key).Initialize(3);
        var changed = await Assert.ThrowsAsync<InvalidOperationException>(() => Sem(0, key).Initialize(4));
        Assert.Contains("initial count 3", changed.Message);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Sem(0, key).Release(0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Sem(0, key).Release(-2));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Sem(0, key).TryAcquire(TimeSpan.FromSeconds(-1)));
        await Assert.ThrowsAsync<SemaphoreFullException>(() => Sem(0, key).Release(int.MaxValue));
        Assert.Equal(3, await Sem(0, key).CurrentCount());
    }

    [Fact]
    public async Task A_bounded_semaphore_refuses_a_release_above_its_initial_count()
    {
        const string key = "bsem";
        await Bounded(0, key).Initialize(2);
        var full = await Assert.ThrowsAsync<SemaphoreFullException>(() => Bounded(0, key).Release());
        Assert.Contains("initial count 2", full.Message);

        await Bounded(0, key).Acquire();
        await Bounded(1, key).Acquire();
        var blocked = Bounded(2, key).Acquire();
        await Poll.UntilAsync(async () => await Bounded(0, key).WaitingCount() == 1, "waiter queued");
        Assert.Equal(0, await Bounded(0, key).Release());
        await blocked.Within();
        await Assert.ThrowsAsync<SemaphoreFullException>(() => Bounded(1, key).Release(2)); // holds 1, permits would be 3
        Assert.Equal(0, await Bounded(1, key).Release());
        Assert.Equal(1, await Bounded(2, key).Release());
        await Assert.ThrowsAsync<SemaphoreFullException>(() => Bounded(3, key).Release());
        Assert.Equal(2, await Bounded(0, key).CurrentCount());
    }

    [Fact]
    public async Task Permits_of_a_session_that_stops_renewing_go_to_a_waiter()
    {
        const string key = "sem-lease";
        await Sem(0, key).Initialize(2);
        await Sem(0, key).SetLeaseDuration(TimeSpan.FromSeconds(1));
        await Sem(3, key).Acquire();
        await Sem(3, key).Acquire(); // then silent
        await Sem(1, key).Acquire().Within();
        Assert.True(await Sem(2, key).TryAcquire(TimeSpan.FromSeconds(10)).Within());
        Assert.Equal(0, await Sem(1, key).Release());
        Assert.Equal(1, await Sem(2, key).Release());
        Assert.Equal(2, await Sem(0, key).CurrentCount());
    }
}

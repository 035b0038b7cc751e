using System.Diagnostics;

namespace OpenReplica.Coordination.Tests;

[Collection(CoordinationCollection.Name)]
public sealed class LockTests(CoordinationClusterFixture fixture)
{
    private ILockGrain Lock(int session, string key) => fixture.Sessions[session].GetGrain<ILockGrain>(key);

    [Fact]
    public void Sessions_are_distinct_owners()
    {
        Assert.Equal(4, fixture.SessionIds.Distinct().Count());
        Assert.DoesNotContain(Guid.Empty, fixture.SessionIds);
    }

    [Fact]
    public async Task Acquire_then_release_by_the_owner()
    {
        var a = Lock(0, "lock-basic");
        Assert.False(await a.IsLocked());
        Assert.Null(await a.Owner());

        await a.Acquire();
        Assert.True(await a.IsLocked());
        Assert.Equal(fixture.SessionIds[0], await a.Owner());
        Assert.True(await a.KeepAlive());

        await a.Release();
        Assert.False(await a.IsLocked());
        Assert.Null(await a.Owner());
        Assert.False(await a.KeepAlive());
    }

    [Fact]
    public async Task Waiters_block_and_are_granted_in_fifo_order()
    {
        const string key = "lock-fifo";
        await Lock(1, key).Acquire();
        var waits = new List<Task>();
        foreach (int session in new[] { 0, 2, 3 })
        {
            waits.Add(Lock(session, key).Acquire());
            int queued = waits.Count;
            await Poll.UntilAsync(async () => await Lock(0, key).WaitingCount() == queued, $"{queued} waiter(s) queued");
        }

        Assert.All(waits, w => Assert.False(w.IsCompleted));
        int previous = 1;
        foreach (var (session, wait) in new[] { 0, 2, 3 }.Zip(waits))
        {
            await Lock(previous, key).Release();
            await wait.Within();
            Assert.Equal(fixture.SessionIds[session], await Lock(0, key).Owner());
            previous = session;
        }

        await Lock(previous, key).Release();
        Assert.False(await Lock(0, key).IsLocked());
        Assert.Equal(0, await Lock(0, key).WaitingCount());
    }

    [Fact]
    public async Task TryAcquire_succeeds_when_free_fails_at_once_with_zero_timeout_and_times_out_by_log_time()
    {
        const string key = "lock-try";
        Assert.True(await Lock(0, key).TryAcquire(TimeSpan.Zero));
        Assert.False(await Lock(1, key).TryAcquire(TimeSpan.Zero));

        var watch = Stopwatch.StartNew();
        Assert.False(await Lock(1, key).TryAcquire(TimeSpan.FromMilliseconds(600)).Within());
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(500), $"timed out after {watch.Elapsed}");
        Assert.Equal(0, await Lock(0, key).WaitingCount());

        // Granted before its deadline: true.
        var attempt = Lock(2, key).TryAcquire(TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(async () => await Lock(0, key).WaitingCount() == 1, "waiter queued");
        await Lock(0, key).Release();
        Assert.True(await attempt.Within());
        Assert.Equal(fixture.SessionIds[2], await Lock(0, key).Owner());

        // Infinite timeout waits like Acquire.
        var infinite = Lock(3, key).TryAcquire(Timeout.InfiniteTimeSpan);
        await Poll.UntilAsync(async () => await Lock(0, key).WaitingCount() == 1, "infinite waiter queued");
        await Lock(2, key).Release();
        Assert.True(await infinite.Within());
        await Lock(3, key).Release();
    }

    [Fact]
    public async Task A_timed_out_waiter_does_not_get_the_lock_later()
    {
        const string key = "lock-timeout-order";
        await Lock(0, key).Acquire();
        var shortWait = Lock(1, key).TryAcquire(TimeSpan.FromMilliseconds(300));
        var longWait = Lock(2, key).Acquire();
        Assert.False(await shortWait.Within());
        await Lock(0, key).Release();
        await longWait.Within();
        Assert.Equal(fixture.SessionIds[2], await Lock(0, key).Owner());
        await Lock(2, key).Release();
    }

    [Fact]
    public async Task The_owning_session_acquiring_again_queues_behind_itself()
    {
        const string key = "lock-not-reentrant";
        await Lock(0, key).Acquire();
        Assert.False(await Lock(0, key).TryAcquire(TimeSpan.Zero));
        var again = Lock(0, key).Acquire();
        await Poll.UntilAsync(async () => await Lock(0, key).WaitingCount() == 1, "second acquire queued");
        await Lock(0, key).Release();
        await again.Within();
        Assert.Equal(fixture.SessionIds[0], await Lock(0, key).Owner());
        await Lock(0, key).Release();
        Assert.False(await Lock(0, key).IsLocked());
    }

    [Fact]
    public async Task Misuse_throws_clear_exceptions()
    {
        const string key = "lock-misuse";
        var free = await Assert.ThrowsAsync<SynchronizationLockException>(() => Lock(0, key).Release());
        Assert.Contains("does not hold the lock", free.Message);

        await Lock(1, key).Acquire();
        var notOwner = await Assert.ThrowsAsync<SynchronizationLockException>(() => Lock(0, key).Release());
        Assert.Contains(fixture.SessionIds[1].ToString("N"), notOwner.Message);
        Assert.Equal(fixture.SessionIds[1], await Lock(0, key).Owner()); // unchanged

        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Lock(0, key).TryAcquire(TimeSpan.FromSeconds(-5)));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Lock(0, key).SetLeaseDuration(TimeSpan.Zero));
        Assert.Equal(0, await Lock(0, key).WaitingCount());
        await Lock(1, key).Release();
    }

    [Fact]
    public async Task A_session_that_stops_renewing_loses_the_lock_to_a_waiter()
    {
        const string key = "lock-lease";
        await Lock(0, key).SetLeaseDuration(TimeSpan.FromSeconds(1));
        Assert.Equal(TimeSpan.FromSeconds(1), await Lock(0, key).GetLeaseDuration());
        await Lock(3, key).Acquire(); // session 3 then goes silent

        var watch = Stopwatch.StartNew();
        await Lock(0, key).Acquire().Within();
        Assert.Equal(fixture.SessionIds[0], await Lock(0, key).Owner());
        Assert.True(watch.Elapsed >= TimeSpan.FromMilliseconds(500), $"granted after {watch.Elapsed}: before the lease ran out");

        // The expired holder's release is now misuse.
        await Assert.ThrowsAsync<SynchronizationLockException>(() => Lock(3, key).Release());
        await Lock(0, key).Release();
    }

    [Fact]
    public async Task An_expired_hold_is_released_even_with_no_waiter()
    {
        const string key = "lock-lease-idle";
        await Lock(0, key).SetLeaseDuration(TimeSpan.FromMilliseconds(500));
        await Lock(2, key).Acquire();
        await Poll.UntilAsync(async () => !await Lock(0, key).IsLocked(), "expiry timer released the hold");
    }

    [Fact]
    public async Task A_renewing_session_keeps_the_lock_past_its_lease()
    {
        const string key = "lock-lease-renewed";
        // A 2 s lease renewed every 250 ms, held through a wait of over two leases: a renewal may be late by 1.75 s
        // before the lease runs out (CI shares two cores among test assemblies; a 1 s lease failed there once, in
        // session 35, with a renewal stalled past it).
        await Lock(0, key).SetLeaseDuration(TimeSpan.FromSeconds(2));
        var session = new CoordinationSession(TimeSpan.FromMilliseconds(250));
        await using (session)
        {
            await session.Track(Lock(2, key)).Acquire();
            Assert.False(await Lock(0, key).TryAcquire(TimeSpan.FromSeconds(4.5)).Within());
            Assert.Equal(fixture.SessionIds[2], await Lock(0, key).Owner());
            Assert.True(session.Renewals >= 3, $"{session.Renewals} renewals");
            Assert.Equal(0, session.Failures);
        }

        // Renewal stopped: the lease runs out and a waiter gets the lock.
        await Lock(0, key).Acquire().Within();
        Assert.Equal(fixture.SessionIds[0], await Lock(0, key).Owner());
        await Lock(0, key).Release();
    }
}

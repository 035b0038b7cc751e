namespace OpenReplica.Coordination.Tests;

[Collection(CoordinationCollection.Name)]
public sealed class ConditionTests(CoordinationClusterFixture fixture)
{
    private IConditionGrain Cond(int session, string key) => fixture.Sessions[session].GetGrain<IConditionGrain>(key);

    [Fact]
    public async Task Wait_releases_the_lock_and_returns_after_notify_once_it_has_reacquired_it()
    {
        const string key = "cond-wait";
        await Cond(1, key).Acquire();
        await Cond(1, key).Acquire(); // hold count 2, restored after the wait
        var wait = Cond(1, key).Wait();
        await Poll.UntilAsync(async () => await Cond(0, key).WaitingCount() == 1, "waiter recorded");
        Assert.False(await Cond(0, key).IsLocked()); // Wait released every hold

        await Cond(0, key).Acquire();
        Assert.Equal(1, await Cond(0, key).Notify());
        Assert.Equal(0, await Cond(0, key).WaitingCount());
        Assert.False(wait.IsCompleted); // notified, but the notifier still holds the lock
        Assert.Equal(fixture.SessionIds[0], await Cond(0, key).Owner());

        Assert.Equal(0, await Cond(0, key).Release());
        await wait.Within();
        Assert.Equal(fixture.SessionIds[1], await Cond(0, key).Owner());
        Assert.Equal(2, await Cond(0, key).HoldCount());
        Assert.Equal(1, await Cond(1, key).Release());
        Assert.Equal(0, await Cond(1, key).Release());
    }

    [Fact]
    public async Task Notify_wakes_waiters_in_fifo_order_and_NotifyAll_wakes_the_rest()
    {
        const string key = "cond-notify";
        var waits = new List<Task>();
        foreach (int session in new[] { 1, 2, 3 })
        {
            await Cond(session, key).Acquire();
            waits.Add(Cond(session, key).Wait());
            int n = waits.Count;
            await Poll.UntilAsync(async () => await Cond(0, key).WaitingCount() == n, $"{n} waiting");
        }

        await Cond(0, key).Acquire();
        Assert.Equal(1, await Cond(0, key).Notify(1));
        Assert.Equal(0, await Cond(0, key).Release());
        await waits[0].Within();
        Assert.Equal(fixture.SessionIds[1], await Cond(0, key).Owner());
        Assert.False(waits[1].IsCompleted);

        Assert.Equal(2, await Cond(1, key).NotifyAll());
        Assert.Equal(0, await Cond(1, key).Notify(5)); // nobody left
        Assert.Equal(0, await Cond(1, key).Release());
        await waits[1].Within();
        Assert.Equal(fixture.SessionIds[2], await Cond(0, key).Owner());
        Assert.Equal(0, await Cond(2, key).Release());
        await waits[2].Within();
        Assert.Equal(fixture.SessionIds[3], await Cond(0, key).Owner());
        Assert.Equal(0, await Cond(3, key).Release());
        Assert.False(await Cond(0, key).IsLocked());
    }

    [Fact]
    public async Task TryWait_returns_false_after_its_timeout_holding_the_lock_again_and_true_when_notified()
    {
        const string key = "cond-trywait";
        await Cond(1, key).Acquire();
        Assert.False(await Cond(1, key).TryWait(TimeSpan.FromMilliseconds(300)).Within());
        Assert.Equal(fixture.SessionIds[1], await Cond(0, key).Owner());
        Assert.False(await Cond(1, key).TryWait(TimeSpan.Zero).Within());
        Assert.Equal(fixture.SessionIds[1], await Cond(0, key).Owner());

        var notified = Cond(1, key).TryWait(TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(async () => await Cond(0, key).WaitingCount() == 1, "timed waiter recorded");
        Assert.True(await Cond(0, key).TryAcquire(TimeSpan.FromSeconds(10)));
        Assert.Equal(1, await Cond(0, key).Notify());
        Assert.Equal(0, await Cond(0, key).Release());
        Assert.True(await notified.Within());
        Assert.Equal(0, await Cond(1, key).Release());
    }

    [Fact]
    public async Task Wait_and_notify_without_holding_the_lock_throw()
    {
        const string key = "cond-misuse";
        await Assert.ThrowsAsync<SynchronizationLockException>(() => Cond(0, key).Wait());
        await Assert.ThrowsAsync<SynchronizationLockException>(() => Cond(0, key).TryWait(TimeSpan.FromSeconds(1)));
        await Assert.ThrowsAsync<SynchronizationLockException>(() => Cond(0, key).Notify());
        await Assert.ThrowsAsync<SynchronizationLockException>(() => Cond(0, key).NotifyAll());
        await Assert.ThrowsAsync<SynchronizationLockException>(() => Cond(0, key).Release());
        await Cond(1, key).Acquire();
        await Assert.ThrowsAsync<SynchronizationLockException>(() => Cond(0, key).Notify());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Cond(1, key).Notify(-1));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Cond(1, key).TryWait(TimeSpan.FromSeconds(-3)));
        Assert.Equal(0, await Cond(0, key).WaitingCount());
        Assert.Equal(1, await Cond(0, key).HoldCount());
        Assert.Equal(0, await Cond(1, key).Release());
    }

    [Fact]
    public async Task A_lock_holder_whose_lease_expires_lets_a_notified_waiter_reacquire()
    {
        const string key = "cond-lease";
        await Cond(0, key).SetLeaseDuration(TimeSpan.FromSeconds(1));
        await Cond(1, key).Acquire();
        var wait = Cond(1, key).Wait();
        await Poll.UntilAsync(async () => await Cond(0, key).WaitingCount() == 1, "waiter recorded");
        await Cond(3, key).Acquire();
        await Cond(3, key).Notify(); // then session 3 goes silent while holding the lock
        await wait.Within();
        Assert.Equal(fixture.SessionIds[1], await Cond(0, key).Owner());
        Assert.Equal(0, await Cond(1, key).Release());
    }
}

namespace OpenReplica.Coordination.Tests;

[Collection(CoordinationCollection.Name)]
public sealed class ReentrantLockTests(CoordinationClusterFixture fixture)
{
    private IReentrantLockGrain RLock(int session, string key) => fixture.Sessions[session].GetGrain<IReentrantLockGrain>(key);

    [Fact]
    public async Task The_owner_acquires_again_and_each_acquire_needs_a_release_before_a_waiter_gets_it()
    {
        const string key = "rlock-basic";
        await RLock(0, key).Acquire();
        await RLock(0, key).Acquire();
        Assert.True(await RLock(0, key).TryAcquire(TimeSpan.Zero));
        Assert.Equal(3, await RLock(0, key).HoldCount());
        Assert.Equal(fixture.SessionIds[0], await RLock(0, key).Owner());

        var waiter = RLock(1, key).Acquire();
        await Poll.UntilAsync(async () => await RLock(0, key).WaitingCount() == 1, "first waiter queued");
        var second = RLock(2, key).TryAcquire(TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(async () => await RLock(0, key).WaitingCount() == 2, "two waiters queued");

        Assert.Equal(2, await RLock(0, key).Release());
        Assert.Equal(1, await RLock(0, key).Release());
        Assert.False(waiter.IsCompleted);
        Assert.True(await RLock(0, key).IsLocked());
        Assert.Equal(0, await RLock(0, key).Release());

        await waiter.Within(); // FIFO: session 1 first
        Assert.Equal(fixture.SessionIds[1], await RLock(0, key).Owner());
        Assert.Equal(1, await RLock(0, key).HoldCount());
        Assert.Equal(0, await RLock(1, key).Release());
        Assert.True(await second.Within());
        Assert.Equal(fixture.SessionIds[2], await RLock(0, key).Owner());
        Assert.Equal(0, await RLock(2, key).Release());
        Assert.False(await RLock(0, key).IsLocked());
    }

    [Fact]
    public async Task TryAcquire_times_out_while_another_session_holds_it()
    {
        const string key = "rlock-try";
        await RLock(1, key).Acquire();
        Assert.False(await RLock(0, key).TryAcquire(TimeSpan.Zero));
        Assert.False(await RLock(0, key).TryAcquire(TimeSpan.FromMilliseconds(300)).Within());
        Assert.Equal(0, await RLock(0, key).WaitingCount());
        Assert.Equal(0, await RLock(1, key).Release());
    }

    [Fact]
    public async Task Releasing_an_rlock_you_do_not_hold_throws()
    {
        const string key = "rlock-misuse";
        await Assert.ThrowsAsync<SynchronizationLockException>(() => RLock(0, key).Release());
        await RLock(1, key).Acquire();
        await Assert.ThrowsAsync<SynchronizationLockException>(() => RLock(0, key).Release());
        Assert.Equal(1, await RLock(0, key).HoldCount());
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => RLock(0, key).TryAcquire(TimeSpan.FromMilliseconds(-2)));
        Assert.Equal(0, await RLock(1, key).Release());
    }

    [Fact]
    public async Task An_expired_lease_drops_every_hold_of_the_session()
    {
        const string key = "rlock-lease";
        await RLock(0, key).SetLeaseDuration(TimeSpan.FromSeconds(1));
        await RLock(3, key).Acquire();
        await RLock(3, key).Acquire();
        await RLock(0, key).Acquire().Within();
        Assert.Equal(fixture.SessionIds[0], await RLock(0, key).Owner());
        Assert.Equal(1, await RLock(0, key).HoldCount());
        Assert.Equal(0, await RLock(0, key).Release());
    }
}

namespace OpenReplica.Coordination.Tests;

[Collection(CoordinationCollection.Name)]
public sealed class LeaseTests(CoordinationClusterFixture fixture)
{
    [Fact]
    public async Task KeepAlive_reports_whether_the_session_holds_something_and_the_lease_is_per_grain()
    {
        var sem = fixture.Sessions[0].GetGrain<ISemaphoreGrain>("lease-keepalive");
        Assert.Equal(CoordinationDefaults.LeaseDuration, await sem.GetLeaseDuration());
        Assert.False(await sem.KeepAlive());
        await sem.Acquire();
        Assert.True(await sem.KeepAlive());
        Assert.False(await fixture.Sessions[1].GetGrain<ISemaphoreGrain>("lease-keepalive").KeepAlive());
        await sem.SetLeaseDuration(TimeSpan.FromMinutes(2));
        Assert.Equal(TimeSpan.FromMinutes(2), await fixture.Sessions[2].GetGrain<ISemaphoreGrain>("lease-keepalive").GetLeaseDuration());
        Assert.Equal(0, await sem.Release());
        Assert.False(await sem.KeepAlive());
    }

    [Fact]
    public async Task GetSessionId_names_the_caller_session()
    {
        for (int i = 0; i < fixture.Sessions.Length; i++)
        {
            Assert.Equal(fixture.SessionIds[i], await fixture.Sessions[i].GetGrain<IConditionGrain>("lease-whoami").GetSessionId());
        }
    }

    [Fact]
    public async Task ExpireWaiters_called_by_a_client_changes_nothing_that_is_not_due()
    {
        const string key = "lease-maintenance";
        var holder = fixture.Sessions[1].GetGrain<ILockGrain>(key);
        await holder.Acquire();
        var waiter = fixture.Sessions[0].GetGrain<ILockGrain>(key).TryAcquire(TimeSpan.FromSeconds(30));
        await Poll.UntilAsync(async () => await holder.WaitingCount() == 1, "waiter queued");

        await fixture.Sessions[2].GetGrain<ILockGrain>(key).AsReference<ICoordinationMaintenance>().ExpireWaiters();
        Assert.Equal(fixture.SessionIds[1], await holder.Owner());
        Assert.Equal(1, await holder.WaitingCount());
        Assert.False(waiter.IsCompleted);

        await holder.Release();
        Assert.True(await waiter.Within());
        await fixture.Sessions[0].GetGrain<ILockGrain>(key).Release();
    }

    [Fact]
    public async Task A_renewal_period_must_be_positive()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => new CoordinationSession(TimeSpan.Zero));
        await using var session = new CoordinationSession(TimeSpan.FromHours(1)); // renewed by hand here
        var sem = session.Track(fixture.Sessions[0].GetGrain<ISemaphoreGrain>("lease-session"));
        await session.RenewNowAsync();
        Assert.Equal(1, session.Renewals);
        session.Untrack(sem);
        long before = session.Renewals;
        await session.RenewNowAsync();
        Assert.Equal(before, session.Renewals);
    }
}

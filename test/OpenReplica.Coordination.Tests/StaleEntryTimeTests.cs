using Microsoft.Extensions.DependencyInjection;
using Orleans.TestingHost;

namespace OpenReplica.Coordination.Tests;

/// <summary>
/// Log time that steps back: an entry's time is its proposer's clock when the call arrived, and a call that waited
/// (its grain could not reach a quorum, or an older activation proposed it) is chosen after calls that arrived later.
/// Found by the chaos tool (PauseLeader × Lock, seed 2026): a lock handed over while such a stale entry was applied
/// got a lease that had already run out by the next entry's time, so the next command passed the lock to a third
/// session while the second still held it — two holders. The silos' clock is shifted back here to write stale entries
/// on purpose; the hand-over must still give the new holder a full lease from the newest time the log has seen. A
/// clock stepped forward must not end a lease early either.
/// </summary>
[Collection(OwnClusterCollection.Name)]
public sealed class StaleEntryTimeTests
{
    private sealed class ShiftableClock : TimeProvider
    {
        public TimeSpan Offset { get; set; }

        public override DateTimeOffset GetUtcNow() => base.GetUtcNow() + Offset;
    }

    private static Task<InProcessTestCluster> StartAsync(ShiftableClock clock) =>
        CoordinationCluster.StartAsync(services => services.AddSingleton<TimeProvider>(clock));

    /// <summary>The lock <paramref name="key"/> as three silos' sessions see it, held by the first under a 20 s lease.</summary>
    private static async Task<(ILockGrain First, ILockGrain Second, ILockGrain Third)> HoldLockAsync(InProcessTestCluster cluster, string key)
    {
        var sessions = cluster.Sessions();
        var first = sessions[1].GetGrain<ILockGrain>(key);
        await first.SetLeaseDuration(TimeSpan.FromSeconds(20));
        await first.Acquire();
        return (first, sessions[2].GetGrain<ILockGrain>(key), sessions[3].GetGrain<ILockGrain>(key));
    }

    [Fact]
    public async Task A_lock_handed_over_by_a_stale_entry_keeps_a_full_lease_from_the_newest_log_time()
    {
        var clock = new ShiftableClock();
        await using var cluster = await StartAsync(clock);
        var (first, second, third) = await HoldLockAsync(cluster, "stale-entry-lock");
        var secondAcquire = second.TryAcquire(TimeSpan.FromMinutes(5));
        await Poll.UntilAsync(async () => await first.WaitingCount() == 1, "the second session queued");

        clock.Offset = -TimeSpan.FromMinutes(1); // entries from now on carry times a minute old
        await first.Release(); // hands the lock to the second session while a stale entry is applied
        Assert.True(await secondAcquire.Within());

        clock.Offset = TimeSpan.Zero; // fresh entries again: a minute later than the hand-over's entry
        Assert.False(await third.TryAcquire(TimeSpan.Zero), "a third session got the lock while the second one held it");
        Assert.Equal(await second.GetSessionId(), await third.Owner());
        await second.Release();
    }

    /// <summary>
    /// The wall clock of the silos steps forward by minutes while the lock is held (an NTP step; the chaos tool's
    /// ClockJump × Lock, seed 1515, saw two holders): entry times follow the step no faster than real time passes, so
    /// the holder's lease does not run out at the next entry.
    /// </summary>
    [Fact]
    public async Task A_wall_clock_stepped_forward_does_not_end_a_held_lease()
    {
        var clock = new ShiftableClock();
        await using var cluster = await StartAsync(clock);
        var (first, second, _) = await HoldLockAsync(cluster, "stepped-clock-lock");

        clock.Offset = TimeSpan.FromMinutes(5); // the wall clock steps forward; the monotonic clock does not
        Assert.False(await second.TryAcquire(TimeSpan.Zero), "a second session got the lock while the first held it");
        Assert.Equal(await first.GetSessionId(), await second.Owner());
        await first.Release();
        Assert.True(await second.TryAcquire(TimeSpan.Zero));
        await second.Release();
    }

    /// <summary>
    /// The same step, and then the lock's activation is collected, so the next call starts a new one: its first entry
    /// must not carry the stepped time either (the bound is the silo's, taken from its start, not the activation's).
    /// </summary>
    [Fact]
    public async Task A_new_activation_after_a_wall_clock_step_does_not_end_a_held_lease()
    {
        var clock = new ShiftableClock();
        await using var cluster = await StartAsync(clock);
        var (first, second, _) = await HoldLockAsync(cluster, "stepped-clock-new-activation");

        clock.Offset = TimeSpan.FromMinutes(5);
        await cluster.Client.GetGrain<IManagementGrain>(0).ForceActivationCollection(TimeSpan.Zero, TestContext.Current.CancellationToken);
        Assert.False(await second.TryAcquire(TimeSpan.Zero), "a second session got the lock from a new activation while the first held it");
        Assert.Equal(await first.GetSessionId(), await second.Owner());
        await first.Release();
        Assert.True(await second.TryAcquire(TimeSpan.Zero));
        await second.Release();
    }
}

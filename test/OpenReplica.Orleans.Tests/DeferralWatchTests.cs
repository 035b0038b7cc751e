using OpenReplica.Orleans.Replication;
using Xunit;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The rebalancer's rule for when a member stops deferring a group's move to another driver
/// (<see cref="DeferralWatch"/>): fed the member's own view of the group pass after pass, with the time given, no clock.
/// </summary>
public class DeferralWatchTests
{
    private const string Group = "3|account/stalled";
    private static readonly TimeSpan Quiet = TimeSpan.FromSeconds(12);
    private static readonly TimeSpan Pass = TimeSpan.FromSeconds(1);

    private static GroupStatus View(long commit, params long[] latest) => new(latest, latest, false, false, commit, 5);

    [Fact]
    public void A_group_that_shows_no_progress_is_taken_over_after_the_quiet_time_and_passes_and_not_before()
    {
        var watch = new DeferralWatch(quietPasses: 3, Quiet);
        var stuck = View(40, 1, 2, 3);
        int passes = 0;
        var now = TimeSpan.FromSeconds(100);
        while (!watch.NoProgress(Group, stuck, rank: 1, now, out _))
        {
            now += Pass;
            passes++;
            Assert.True(passes < 100, "never taken over");
        }
        Assert.Equal(Quiet, TimeSpan.FromSeconds(passes));

        // Time alone is not enough: a second pass long after the first is still only the second look at it.
        var slow = new DeferralWatch(quietPasses: 3, Quiet);
        Assert.False(slow.NoProgress(Group, stuck, 1, now, out _));
        Assert.False(slow.NoProgress(Group, stuck, 1, now + TimeSpan.FromMinutes(5), out _));
        Assert.True(slow.NoProgress(Group, stuck, 1, now + TimeSpan.FromMinutes(6), out var stall));
        Assert.Equal(3, stall.Passes);
    }

    [Fact]
    public void A_driver_that_makes_progress_is_never_taken_over()
    {
        var watch = new DeferralWatch(quietPasses: 3, Quiet);
        var now = TimeSpan.Zero;
        // A move at work: the addition chosen, the window's no-ops, a catch-up that commits nothing for 10 s, the removal.
        // Every StepTimeout at most, something the member knows changes.
        var views = new List<GroupStatus> { View(10, 1, 2, 3), View(11, 1, 2, 3, 4) };
        views.AddRange(Enumerable.Repeat(View(12, 1, 2, 3, 4), 10));
        views.Add(View(13, 2, 3, 4));
        for (int round = 0; round < 20; round++)
        {
            foreach (var view in views)
            {
                Assert.False(watch.NoProgress(Group, view with { CommitIndex = view.CommitIndex + 10 * round }, rank: 1, now, out var stall), $"taken over at {now}: {stall}");
                now += Pass;
            }
        }
    }

    [Fact]
    public void Members_of_higher_rank_wait_longer_so_two_do_not_campaign_against_each_other()
    {
        var first = new DeferralWatch(3, Quiet);
        var second = new DeferralWatch(3, Quiet);
        var stuck = View(7, 1, 2, 3);
        TimeSpan? firstAt = null, secondAt = null;
        for (var now = TimeSpan.Zero; now < TimeSpan.FromMinutes(1) && secondAt is null; now += Pass)
        {
            if (firstAt is null && first.NoProgress(Group, stuck, 1, now, out _)) firstAt = now;
            if (second.NoProgress(Group, stuck, 2, now, out _)) secondAt = now;
        }
        Assert.Equal(Quiet, firstAt);
        Assert.Equal(2 * Quiet, secondAt);
    }

    [Fact]
    public void After_a_take_over_the_wait_starts_again()
    {
        var watch = new DeferralWatch(3, Quiet);
        var stuck = View(7, 1, 2, 3);
        var now = TimeSpan.Zero;
        while (!watch.NoProgress(Group, stuck, 1, now, out _)) now += Pass;
        watch.TookOver(Group);
        var tookOverAt = now;
        do now += Pass;
        while (!watch.NoProgress(Group, stuck, 1, now, out _));
        Assert.Equal(tookOverAt + Quiet + Pass, now);
    }

    [Fact]
    public void Only_groups_still_deferred_here_are_kept()
    {
        var watch = new DeferralWatch(3, Quiet);
        var groups = Enumerable.Range(0, 100).Select(i => $"3|account/g{i}").ToList();
        foreach (string group in groups) watch.NoProgress(group, View(1, 1, 2, 3), 1, TimeSpan.Zero, out _);
        Assert.Equal(100, watch.Count);
        foreach (string group in groups.Take(30)) watch.Settled(group);
        watch.Retain(groups.Skip(30).Take(50).ToList());
        Assert.Equal(50, watch.Count);
    }
}

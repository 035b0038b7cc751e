using OpenReplica.Orleans.Replication;
using Xunit;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The rebalancer's adaptive width (<see cref="MovePacer"/>): fed move durations directly, no clock involved.
/// </summary>
public class MovePacerTests
{
    private static readonly TimeSpan Fast = TimeSpan.FromMilliseconds(200);

    [Fact]
    public void Starts_at_the_floor_and_widens_to_the_ceiling_while_moves_stay_fast()
    {
        var pacer = new MovePacer(floor: 4, ceiling: 16);
        Assert.Equal(4, pacer.Limit);
        for (int i = 0; i < 500; i++) pacer.MoveTook(Fast);
        Assert.Equal(16, pacer.Limit);
    }

    [Fact]
    public void Halves_when_moves_slow_down_but_never_below_the_floor()
    {
        var pacer = new MovePacer(floor: 4, ceiling: 16);
        for (int i = 0; i < 500; i++) pacer.MoveTook(Fast);
        // The receiving silo saturates: every move takes 10x the fast end of the recent ones.
        var slow = Fast * 10;
        var limits = new List<int>();
        for (int i = 0; i < 100; i++)
        {
            pacer.MoveTook(slow);
            limits.Add(pacer.Limit);
        }
        Assert.Contains(8, limits);
        Assert.Equal(4, pacer.Limit);
        // Halving waits for a round of moves at the new width: not all at once.
        Assert.True(limits.IndexOf(4) > limits.IndexOf(8) + 1);
    }

    [Fact]
    public void A_fixed_pace_when_floor_and_ceiling_are_equal()
    {
        var pacer = new MovePacer(floor: 32, ceiling: 32);
        for (int i = 0; i < 100; i++) pacer.MoveTook(i % 2 == 0 ? Fast : Fast * 50);
        Assert.Equal(32, pacer.Limit);
    }

    [Fact]
    public async Task Steps_beyond_the_limit_wait_until_one_ends_and_a_cancelled_waiter_takes_no_step()
    {
        var pacer = new MovePacer(floor: 2, ceiling: 2);
        await pacer.EnterAsync(CancellationToken.None);
        await pacer.EnterAsync(CancellationToken.None);
        using var cancel = new CancellationTokenSource();
        var cancelled = pacer.EnterAsync(cancel.Token);
        var third = pacer.EnterAsync(CancellationToken.None);
        Assert.False(cancelled.IsCompleted);
        Assert.False(third.IsCompleted);
        cancel.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => cancelled);
        pacer.Exit();
        await third.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
        // Two running again (the cancelled waiter took none): a fourth waits.
        var fourth = pacer.EnterAsync(CancellationToken.None);
        Assert.False(fourth.IsCompleted);
        pacer.Exit();
        await fourth.WaitAsync(TimeSpan.FromSeconds(10), TestContext.Current.CancellationToken);
    }
}

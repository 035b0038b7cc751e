using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The loader threads that build replicas from the WAL: what a caller or a peer waits for (an activation, a message, a
/// status ask) goes before the rebalancer's passes, which visit every group a silo holds; results and failures reach
/// the caller; work handed over after the loaders stopped still runs.
/// </summary>
public sealed class GroupLoaderTests
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Work_a_caller_waits_for_goes_before_queued_background_work()
    {
        using var loaders = new GroupLoaders(1, e => Assert.Fail(e.ToString()));
        using var busy = new ManualResetEventSlim();
        using var release = new ManualResetEventSlim();
        var order = new List<string>();
        loaders.Schedule(() => { busy.Set(); Assert.True(release.Wait(Bound)); });
        Assert.True(busy.Wait(Bound, TestContext.Current.CancellationToken));

        var background = loaders.RunAsync(() => { lock (order) order.Add("rebalancer"); return 1; }, background: true, TestContext.Current.CancellationToken);
        var urgent = loaders.RunAsync(() => { lock (order) order.Add("activation"); return 2; }, cancellationToken: TestContext.Current.CancellationToken);
        release.Set();

        Assert.Equal(2, await urgent.WaitAsync(Bound, TestContext.Current.CancellationToken));
        Assert.Equal(1, await background.WaitAsync(Bound, TestContext.Current.CancellationToken));
        lock (order) Assert.Equal(["activation", "rebalancer"], order);
    }

    [Fact]
    public async Task A_failed_load_fails_its_callers_task_and_the_loader_goes_on()
    {
        using var loaders = new GroupLoaders(1, e => Assert.Fail(e.ToString()));
        var failed = loaders.RunAsync<int>(() => throw new IOException("disk gone"), cancellationToken: TestContext.Current.CancellationToken);
        await Assert.ThrowsAsync<IOException>(() => failed.WaitAsync(Bound, TestContext.Current.CancellationToken));
        Assert.Equal(3, await loaders.RunAsync(() => 3, cancellationToken: TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task Work_handed_over_after_the_loaders_stopped_still_runs()
    {
        var loaders = new GroupLoaders(2, e => Assert.Fail(e.ToString()));
        loaders.Dispose();
        Assert.Equal(4, await loaders.RunAsync(() => 4, cancellationToken: TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken));
    }

    [Fact]
    public async Task A_bounded_caller_stops_waiting_for_the_queue_and_its_load_does_not_run()
    {
        // A graceful stop counts its groups within a bound; a load queued behind thousands must not outlast it.
        using var loaders = new GroupLoaders(1, e => Assert.Fail(e.ToString()));
        using var release = new ManualResetEventSlim();
        loaders.Schedule(() => Assert.True(release.Wait(Bound)));
        using var bound = new CancellationTokenSource();
        bool ran = false;
        var waiting = loaders.RunAsync(() => ran = true, background: true, bound.Token);
        bound.Cancel();
        await Assert.ThrowsAnyAsync<OperationCanceledException>(() => waiting);
        release.Set();
        Assert.Equal(5, await loaders.RunAsync(() => 5, cancellationToken: TestContext.Current.CancellationToken).WaitAsync(Bound, TestContext.Current.CancellationToken));
        Assert.False(ran);
    }
}

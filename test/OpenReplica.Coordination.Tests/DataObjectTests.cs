namespace OpenReplica.Coordination.Tests;

[Collection(CoordinationCollection.Name)]
public sealed class DataObjectTests(CoordinationClusterFixture fixture)
{
    private T Grain<T>(int session, string key) where T : IGrainWithStringKey => fixture.Sessions[session].GetGrain<T>(key);

    [Fact]
    public async Task Counter_adds_reads_and_compares_and_sets()
    {
        var counter = Grain<ICounterGrain>(0, "counter");
        Assert.Equal(0, await counter.Get());
        Assert.Equal(5, await counter.Add(5));
        Assert.Equal(2, await Grain<ICounterGrain>(1, "counter").Add(-3));
        Assert.Equal(2, await counter.Get());
        Assert.False(await counter.CompareAndSet(7, 10));
        Assert.Equal(2, await counter.Get());
        Assert.True(await counter.CompareAndSet(2, 10));
        Assert.Equal(10, await counter.Get());
    }

    [Fact]
    public async Task Counter_concurrent_adds_are_all_applied_and_overflow_throws()
    {
        var counter = Grain<ICounterGrain>(0, "counter-concurrent");
        await Task.WhenAll(Enumerable.Range(0, 40).Select(i => Grain<ICounterGrain>(i % 4, "counter-concurrent").Add(1)));
        Assert.Equal(40, await counter.Get());
        Assert.True(await counter.CompareAndSet(40, long.MaxValue));
        await Assert.ThrowsAsync<OverflowException>(() => counter.Add(1));
        Assert.Equal(long.MaxValue, await counter.Get());
    }

    [Fact]
    public async Task Queue_is_fifo_and_TryDequeue_does_not_wait()
    {
        var queue = Grain<IQueueGrain>(0, "queue-fifo");
        Assert.Null(await queue.TryDequeue());
        await queue.Enqueue("a");
        await Grain<IQueueGrain>(1, "queue-fifo").Enqueue("b");
        await queue.Enqueue("c");
        Assert.Equal(3, await queue.Count());
        Assert.Equal("a", await queue.Dequeue());
        Assert.Equal("b", await Grain<IQueueGrain>(2, "queue-fifo").TryDequeue());
        Assert.Equal("c", await queue.Dequeue());
        Assert.Equal(0, await queue.Count());
        await Assert.ThrowsAsync<ArgumentNullException>(() => queue.Enqueue(null!));
    }

    [Fact]
    public async Task Dequeue_blocks_while_empty_and_waiters_are_served_in_order()
    {
        const string key = "queue-blocking";
        var first = Grain<IQueueGrain>(1, key).Dequeue();
        await Poll.UntilAsync(async () => await Grain<IQueueGrain>(0, key).WaitingCount() == 1, "first waiter");
        var second = Grain<IQueueGrain>(2, key).Dequeue();
        await Poll.UntilAsync(async () => await Grain<IQueueGrain>(0, key).WaitingCount() == 2, "second waiter");
        Assert.False(first.IsCompleted);

        await Grain<IQueueGrain>(0, key).Enqueue("x");
        Assert.Equal("x", await first.Within());
        Assert.False(second.IsCompleted);
        await Grain<IQueueGrain>(3, key).Enqueue("y");
        Assert.Equal("y", await second.Within());
        Assert.Equal(0, await Grain<IQueueGrain>(0, key).Count()); // handed over, never stored
        Assert.Null(await Grain<IQueueGrain>(0, key).TryDequeue());
    }

    [Fact]
    public async Task Map_puts_gets_removes_and_compares_and_sets()
    {
        var map = Grain<IMapGrain>(0, "map");
        Assert.Null(await map.Get("k"));
        Assert.Null(await map.Put("k", "1"));
        Assert.Equal("1", await map.Put("k", "2"));
        Assert.Equal("2", await Grain<IMapGrain>(1, "map").Get("k"));
        Assert.Equal(1, await map.Count());

        Assert.False(await map.CompareAndSet("k", "1", "3"));
        Assert.True(await map.CompareAndSet("k", "2", "3"));
        Assert.Equal("3", await map.Get("k"));
        Assert.False(await map.CompareAndSet("new", "x", "y")); // absent, expected a value
        Assert.True(await map.CompareAndSet("new", null, "y")); // null expected: must be absent
        Assert.False(await map.CompareAndSet("new", null, "z"));
        Assert.True(await map.CompareAndSet("new", "y", null)); // null value: remove
        Assert.Null(await map.Get("new"));

        Assert.True(await map.Remove("k"));
        Assert.False(await map.Remove("k"));
        Assert.Equal(0, await map.Count());

        await Assert.ThrowsAsync<ArgumentNullException>(() => map.Put("k", null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => map.Put(null!, "v"));
        await Assert.ThrowsAsync<ArgumentNullException>(() => map.Get(null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => map.Remove(null!));
        await Assert.ThrowsAsync<ArgumentNullException>(() => map.CompareAndSet(null!, null, "v"));
    }
}

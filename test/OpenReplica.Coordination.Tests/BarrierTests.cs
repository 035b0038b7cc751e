namespace OpenReplica.Coordination.Tests;

[Collection(CoordinationCollection.Name)]
public sealed class BarrierTests(CoordinationClusterFixture fixture)
{
    private IBarrierGrain Barrier(int session, string key) => fixture.Sessions[session].GetGrain<IBarrierGrain>(key);

    [Fact]
    public async Task Callers_wait_until_all_parties_arrive_then_the_next_generation_starts()
    {
        const string key = "barrier-basic";
        await Barrier(0, key).Configure(3);
        Assert.Equal(3, await Barrier(0, key).Parties());

        for (long generation = 0; generation < 2; generation++)
        {
            var first = Barrier(1, key).SignalAndWait();
            var second = Barrier(2, key).SignalAndWait();
            await Poll.UntilAsync(async () => await Barrier(0, key).ArrivedCount() == 2, "two arrived");
            Assert.False(first.IsCompleted);
            Assert.False(second.IsCompleted);

            var last = await Barrier(3, key).SignalAndWait();
            var all = new[] { await first.Within(), await second.Within(), last };
            Assert.All(all, a => Assert.Equal(generation, a.Generation));
            Assert.Equal([0, 1, 2], all.Select(a => a.Index).Order());
            Assert.Equal(generation + 1, await Barrier(0, key).Generation());
            Assert.Equal(0, await Barrier(0, key).ArrivedCount());
        }
    }

    [Fact]
    public async Task A_single_party_barrier_never_blocks()
    {
        await Barrier(0, "barrier-one").Configure(1);
        Assert.Equal(new BarrierArrival(0, 0), await Barrier(0, "barrier-one").SignalAndWait());
        Assert.Equal(new BarrierArrival(1, 0), await Barrier(1, "barrier-one").SignalAndWait());
    }

    [Fact]
    public async Task Reset_breaks_the_waiters_and_starts_a_new_generation()
    {
        const string key = "barrier-reset";
        await Barrier(0, key).Configure(3);
        var waiting = Barrier(1, key).SignalAndWait();
        await Poll.UntilAsync(async () => await Barrier(0, key).ArrivedCount() == 1, "one arrived");
        Assert.Equal(1, await Barrier(0, key).Reset());
        await Assert.ThrowsAsync<BrokenBarrierException>(() => waiting.Within());
        Assert.Equal(1, await Barrier(0, key).Generation());
        Assert.Equal(0, await Barrier(0, key).ArrivedCount());
    }

    [Fact]
    public async Task Misuse_throws_clear_exceptions()
    {
        const string key = "barrier-misuse";
        var unconfigured = await Assert.ThrowsAsync<InvalidOperationException>(() => Barrier(0, key).SignalAndWait());
        Assert.Contains("Configure", unconfigured.Message);
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Barrier(0, key).Configure(0));
        await Assert.ThrowsAsync<ArgumentOutOfRangeException>(() => Barrier(0, key).Configure(-4));

        await Barrier(0, key).Configure(2);
        var waiting = Barrier(1, key).SignalAndWait();
        await Poll.UntilAsync(async () => await Barrier(0, key).ArrivedCount() == 1, "one arrived");
        await Assert.ThrowsAsync<InvalidOperationException>(() => Barrier(0, key).Configure(5));
        await Barrier(0, key).Configure(2); // same value: fine
        Assert.Equal(2, await Barrier(0, key).Parties());
        Assert.Equal(new BarrierArrival(0, 1), await Barrier(2, key).SignalAndWait());
        Assert.Equal(new BarrierArrival(0, 0), await waiting.Within());
        await Barrier(0, key).Configure(4); // nobody waiting: may change
        Assert.Equal(4, await Barrier(0, key).Parties());
    }
}

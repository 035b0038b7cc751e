using OpenReplica.Orleans.Testing;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// <see cref="ReplicatedGrainsOptions.MaxCallBytes"/>: a replicated call whose method and arguments serialize to more
/// fails at once with an error that names its size and the option, is not applied, and is not retried; smaller calls go
/// on as before.
/// </summary>
public sealed class CallSizeTests
{
    [Fact]
    public async Task A_call_larger_than_max_call_bytes_fails_at_once_naming_its_size_and_is_not_applied()
    {
        await using var cluster = await ReplicatedTestCluster.StartAsync(o => o.ConfigureReplication = r => r.MaxCallBytes = 4_096);
        var grain = cluster.Client.GetGrain<ICounterGrain>("too-large");
        Assert.Equal(1, await grain.Add(1));

        var started = DateTime.UtcNow;
        var error = await Assert.ThrowsAsync<ArgumentException>(() => grain.AddThenFail(1, new string('x', 10_000)));
        Assert.Contains("ICounterGrain.AddThenFail", error.Message);
        Assert.Contains("more than ReplicatedGrainsOptions.MaxCallBytes (4,096)", error.Message);
        Assert.Contains("The call was not applied", error.Message);
        Assert.True(DateTime.UtcNow - started < TimeSpan.FromSeconds(5), "the client retried a call that can never be applied");

        // Under the bound the same method runs (and throws its own exception, which rolls its change back).
        await Assert.ThrowsAsync<CounterRejectedException>(() => grain.AddThenFail(1, new string('x', 1_000)));
        Assert.Equal(2, await grain.Add(1));
        var state = await grain.Get();
        Assert.Equal(2, state.Value);
        Assert.Equal(2, state.Commands);
    }
}

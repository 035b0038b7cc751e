namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A replicated method may ask Orleans to deactivate its activation (<c>DeactivateOnIdle</c>, a common "delete and go
/// away" idiom). The live call deactivates the activation it ran on; every later activation replays that call while it
/// starts, and must not stop itself again (it did: each new activation deactivated before serving and the grain's
/// callers were forwarded between stopping activations until they gave up).
/// </summary>
public sealed class LifecycleRequestTests
{
    [Fact]
    public async Task A_logged_call_that_deactivates_its_activation_does_not_stop_the_activations_that_replay_it()
    {
        var (cluster, _) = await ConsensusCluster.StartAsync(3);
        await using var _ = cluster;
        var grain = cluster.Client.GetGrain<ICounterGrain>("deactivates-itself");
        Assert.Equal(1, await grain.Add(1));
        string first = await grain.GetActivation();

        Assert.Equal(2, await grain.AddThenDeactivate(1));
        // The live request is honoured: the next call meets a new activation, which replayed the call and serves.
        Assert.Equal(3, await grain.Add(1));
        string second = await grain.GetActivation();
        Assert.NotEqual(first, second);

        // Fewer commands than any snapshot threshold: every later activation replays the deactivating call too.
        await grain.Deactivate();
        Assert.Equal(4, await grain.Add(1));
        Assert.NotEqual(second, await grain.GetActivation());
        Assert.Equal(4, (await grain.Get()).Value);
        Assert.Equal(4, (await grain.Get()).Commands);
    }
}

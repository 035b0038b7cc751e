using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A caller that got <see cref="CallOutcomeUnknownException"/> asks the grain what became of the call
/// (<see cref="CallOutcomeResolution.ResolveAsync"/>): applied (with its answer), or not applied and fenced so that it
/// never will be, consistent with the grain's state.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class CallOutcomeResolutionTests
{
    private static readonly TimeSpan Failover = TimeSpan.FromSeconds(90);

    [Fact]
    public async Task A_call_whose_reply_was_lost_resolves_as_applied_with_its_answer()
    {
        var lose = new LoseFirstReplyFilter();
        await using var cluster = await FaultCluster.StartAsync(silos: 3, clientRetries: 0,
            configureClient: c => c.Services.AddSingleton<IOutgoingGrainCallFilter>(lose));
        var counter = cluster.Client.GetGrain<ICounterGrain>("resolve-applied");
        await counter.Add(1);

        lose.Arm(nameof(ICounterGrain.Add));
        var unknown = await Assert.ThrowsAsync<CallOutcomeUnknownException>(() => counter.Add(5));

        var resolution = await cluster.Client.ResolveAsync(unknown);
        Assert.Equal(ResolvedOutcome.Applied, resolution.Outcome);
        Assert.True(resolution.ReplyKept);
        Assert.Equal(6L, resolution.Result);
        Assert.Equal(resolution, await cluster.Client.ResolveAsync(unknown)); // asking again gives the same answer
        Assert.Equal(6, (await counter.Get()).Value);
    }

    [Fact]
    public async Task A_stamp_resolved_before_its_call_arrives_is_fenced_and_the_late_call_is_refused_not_applied()
    {
        var force = new ForceStampFilter();
        await using var cluster = await FaultCluster.StartAsync(silos: 3, configureClient: c => c.Services.AddSingleton<IOutgoingGrainCallFilter>(force));
        var counter = cluster.Client.GetGrain<ICounterGrain>("resolve-fenced");
        await counter.Add(1);

        // A stamp whose call has not reached the grain (still on its way, say): resolving it writes a fence.
        var stamp = new CallStamp(Guid.NewGuid(), 3, 1);
        var unknown = new CallOutcomeUnknownException(stamp, counter.GetGrainId(), nameof(ICounterGrain.Add), 1, TimeSpan.FromSeconds(1), new TimeoutException("lost"));
        Assert.Equal(ResolvedOutcome.NotApplied, (await cluster.Client.ResolveAsync(unknown)).Outcome);
        Assert.Equal(ResolvedOutcome.NotApplied, (await cluster.Client.ResolveAsync(unknown)).Outcome);

        // The call arrives late with that stamp: the fence took its place, so it is refused and changes nothing.
        force.Next = stamp;
        var late = await Assert.ThrowsAsync<CallNotAppliedException>(() => counter.Add(100));
        Assert.Equal(stamp, late.Stamp);
        Assert.Equal(1, (await counter.Get()).Value);

        // Same after a failover: the fence is in the log, and the new activation rebuilds the same reply.
        var home = await counter.GetSilo();
        await cluster.KillAsync(cluster.HandleOf(home));
        Assert.Equal(1, (await Eventually.CallAsync(() => counter.Get(), "the counter after the failover", Failover)).Value);
        Assert.Equal(ResolvedOutcome.NotApplied, (await cluster.Client.ResolveAsync(unknown)).Outcome);
        force.Next = stamp;
        await Assert.ThrowsAsync<CallNotAppliedException>(() => counter.Add(100));
        Assert.Equal(1, (await counter.Get()).Value);
    }

    [Fact]
    public async Task A_call_given_up_while_no_majority_answers_resolves_consistently_with_the_state_once_the_silos_return()
    {
        await using var cluster = await FaultCluster.StartAsync(silos: 3, clientDeadline: TimeSpan.FromSeconds(3));
        var counter = cluster.Client.GetGrain<ICounterGrain>("resolve-outage");
        await counter.Add(1);
        var home = await counter.GetSilo();

        // Two of the three replicas die: the call cannot be chosen, the client gives up with the outcome unknown.
        var others = cluster.Silos.Where(s => !s.SiloAddress.Equals(home)).ToList();
        foreach (var silo in others) await cluster.KillAsync(silo);
        var unknown = await Assert.ThrowsAsync<CallOutcomeUnknownException>(() => counter.Add(10));

        foreach (var silo in others) await cluster.RestartAsync(silo);
        var resolution = await Eventually.CallAsync(() => cluster.Client.ResolveAsync(unknown), "resolving after the restart", Failover);
        Assert.NotEqual(ResolvedOutcome.Forgotten, resolution.Outcome);

        // Definitive: the state agrees, and stays so (a fenced call cannot be chosen later).
        long expected = resolution.Outcome == ResolvedOutcome.Applied ? 11 : 1;
        Assert.Equal(expected, (await counter.Get()).Value);
        Assert.Equal(expected + 1, await counter.Add(1));
        Assert.Equal(resolution.Outcome, (await cluster.Client.ResolveAsync(unknown)).Outcome);
    }

    /// <summary>Inside the stamping filter: replaces the next call's stamp with <see cref="Next"/>, as a call sent long ago would carry.</summary>
    private sealed class ForceStampFilter : IOutgoingGrainCallFilter
    {
        public CallStamp? Next { get; set; }

        public Task Invoke(IOutgoingGrainCallContext context)
        {
            if (Next is { } stamp && context.MethodName == nameof(ICounterGrain.Add))
            {
                Next = null;
                RequestContext.Set(CallStamp.RequestContextKey, stamp);
            }
            return context.Invoke();
        }
    }
}

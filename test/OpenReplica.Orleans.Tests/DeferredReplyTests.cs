using Orleans.Runtime;
using Orleans.Concurrency;

namespace OpenReplica.Orleans.Tests;

[GenerateSerializer]
public sealed class GateState
{
    [Id(0)] public List<CallId> Waiters { get; set; } = [];
    [Id(1)] public int Opened { get; set; }
}

public interface IGateGrain : IGrainWithStringKey
{
    /// <summary>Blocks until the gate opens; returns the opening's number.</summary>
    Task<int> Wait();

    /// <summary>Opens the gate: answers every waiter.</summary>
    Task<int> Open();

    [ReadOnly] Task<int> WaiterCount();

    [ReadOnly] Task<SiloAddress> GetSilo();
}

public sealed class GateGrain(ILocalSiloDetails silo) : ReplicatedGrain<GateState>, IGateGrain
{
    public Task<int> Wait()
    {
        State.Waiters.Add(Replicated.Call);
        return Replicated.Defer<int>();
    }

    public Task<int> Open()
    {
        State.Opened++;
        foreach (var waiter in State.Waiters) Replicated.Complete(waiter, State.Opened);
        int answered = State.Waiters.Count;
        State.Waiters.Clear();
        return Task.FromResult(answered);
    }

    public Task<int> WaiterCount() => Task.FromResult(State.Waiters.Count);

    public Task<SiloAddress> GetSilo() => Task.FromResult(silo.SiloAddress);
}

/// <summary>Blocking calls wait without holding the log, and their waiters survive failover.</summary>
public sealed class DeferredReplyTests
{
    [Fact]
    public async Task A_deferred_call_waits_without_holding_the_log_and_is_answered_by_a_later_command()
    {
        var (cluster, _) = await ConsensusCluster.StartAsync(3);
        await using var _ = cluster;
        var gate = cluster.Client.GetGrain<IGateGrain>("gate");
        var waits = Enumerable.Range(0, 3).Select(_ => gate.Wait()).ToList();
        await Poll.UntilAsync(async () => await gate.WaiterCount() == 3, "three waiters recorded");
        Assert.All(waits, w => Assert.False(w.IsCompleted));

        Assert.Equal(3, await gate.Open()); // the log moved on while they waited
        foreach (var w in waits) Assert.Equal(1, await w);
        Assert.Equal(0, await gate.WaiterCount());
    }

    [Fact]
    public async Task A_waiter_survives_the_loss_of_the_leader_silo()
    {
        var (cluster, _) = await ConsensusCluster.StartAsync(3);
        await using var _ = cluster;
        IGateGrain gate = null!;
        for (int i = 0; gate is null; i++)
        {
            var candidate = cluster.Client.GetGrain<IGateGrain>($"gate-failover-{i}");
            if (!(await candidate.GetSilo()).Equals(cluster.Silos[0].SiloAddress)) gate = candidate;
        }
        var wait = gate.Wait();
        await Poll.UntilAsync(async () => await gate.WaiterCount() == 1, "waiter recorded");

        await cluster.KillAndWaitDeadAsync(cluster.HandleOf(await gate.GetSilo()));
        Assert.Equal(1, await gate.WaiterCount()); // replayed on the new activation
        Assert.Equal(1, await gate.Open());
        Assert.Equal(1, await wait.WaitAsync(TimeSpan.FromSeconds(30), TestContext.Current.CancellationToken));
    }
}

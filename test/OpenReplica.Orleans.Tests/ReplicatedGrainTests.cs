using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;
using Orleans.Serialization;
using Orleans.Serialization.Invocation;
using Orleans.TestingHost;

namespace OpenReplica.Orleans.Tests;

[Collection(ClusterCollection.Name)]
public sealed class ReplicatedGrainTests(ClusterFixture fixture)
{
    private InProcessTestCluster Cluster => fixture.Cluster;

    private IAccountGrain Account(string key) => Cluster.Client.GetGrain<IAccountGrain>(key);

    private async Task<(SiloAddress Host, LocalCallReplicator Replicator)> HostOf(IAccountGrain grain)
    {
        var host = await grain.GetSilo();
        return (host, Cluster.Service<LocalCallReplicator>(host));
    }

    [Fact]
    public async Task Activation_is_placed_on_a_silo_of_the_replica_set()
    {
        var grain = Account("placement");
        var host = await grain.GetSilo();

        var locator = Cluster.Service<IReplicaSetLocator>(Cluster.Silos[0].SiloAddress);
        var replicas = await locator.GetReplicaSilosAsync(grain.GetGrainId(), 3);

        Assert.Equal(3, replicas.Count);
        Assert.Equal(3, replicas.Distinct().Count());
        Assert.Contains(host, replicas);
    }

    [Fact]
    public async Task Calls_go_through_the_replicator_and_change_state()
    {
        var grain = Account("deposit");
        Assert.Equal(10m, await grain.Deposit(10));
        Assert.Equal(15m, await grain.Deposit(5));
        Assert.Equal(15m, await grain.GetBalance());

        var (_, replicator) = await HostOf(grain);
        var log = replicator.GetLog(grain.GetGrainId());
        Assert.Equal(2, log.Count);
        Assert.Equal([1L, 2L], log.Select(e => e.Position.Slot));
    }

    [Fact]
    public async Task A_throwing_method_gives_the_caller_its_exception_and_leaves_state_unchanged()
    {
        var grain = Account("withdraw");
        await grain.Deposit(10);
        await grain.Withdraw(4);

        var exception = await Assert.ThrowsAsync<InsufficientFundsException>(() => grain.Withdraw(100));
        Assert.Equal("Cannot withdraw 100: balance would be -94.", exception.Message);

        var state = await grain.GetState();
        Assert.Equal(6m, state.Balance);
        Assert.Equal([-1], state.Items); // only the successful withdrawal's mark

        // The failed call is still a command of the log: replay must roll it back the same way.
        var (_, replicator) = await HostOf(grain);
        Assert.Equal(3, replicator.GetLog(grain.GetGrainId()).Count);
    }

    [Fact]
    public async Task ReadOnly_methods_bypass_the_replicator()
    {
        var grain = Account("readonly");
        await grain.Deposit(1);
        var (_, replicator) = await HostOf(grain);
        var receivedBefore = replicator.GetReceivedStamps(grain.GetGrainId()).Count;

        for (var i = 0; i < 5; i++)
        {
            Assert.Equal(1m, await grain.GetBalance());
            await grain.GetState();
        }

        Assert.Equal(receivedBefore, replicator.GetReceivedStamps(grain.GetGrainId()).Count);
        await grain.Deposit(1);
        Assert.Equal(receivedBefore + 1, replicator.GetReceivedStamps(grain.GetGrainId()).Count);
    }

    [Fact]
    public async Task Pipelined_calls_are_all_in_flight_at_once_and_run_strictly_in_log_order()
    {
        const int Calls = 20;
        var grain = Account("pipeline");
        var (host, replicator) = await HostOf(grain);
        var grainId = grain.GetGrainId();

        replicator.Pause();
        Task[] calls;
        try
        {
            calls = Enumerable.Range(1, Calls).Select(i => grain.AppendTwice(i)).ToArray();

            // All calls entered the grain's filter and reached the log while none was applied: reentrancy pipelines them.
            await Poll.UntilAsync(() => replicator.GetLog(grainId).Count == Calls, "all calls appended while paused");
            Assert.Empty((await grain.GetState()).Items);
        }
        finally
        {
            replicator.Resume();
        }

        await Task.WhenAll(calls);

        var serializer = Cluster.Service<Serializer>(host);
        var logOrder = replicator.GetLog(grainId)
            .Select(e => (int)serializer.Deserialize<IInvokable>(e.Invokable)!.GetArgument(0)!)
            .ToArray();
        var expected = logOrder.SelectMany(x => new[] { x, x }).ToArray();
        Assert.Equal(expected, (await grain.GetState()).Items);
        Assert.Equal(Enumerable.Range(1, Calls), logOrder.Order());
    }

    [Fact]
    public async Task A_new_activation_replays_the_log_to_the_same_state_with_the_same_replicated_context()
    {
        var grain = Account("replay");
        await grain.Deposit(7);
        var notes = new List<Note>();
        for (var i = 0; i < 3; i++)
        {
            notes.Add(await grain.TakeNote());
        }

        await Assert.ThrowsAsync<InsufficientFundsException>(() => grain.Withdraw(50));
        await grain.AppendTwice(9);
        var before = await grain.GetState();
        var (host, replicator) = await HostOf(grain);
        var logLength = replicator.GetLog(grain.GetGrainId()).Count;

        Assert.Equal(3, notes.Select(n => n.Id).Distinct().Count());
        Assert.Equal(notes, before.Notes);

        await Cluster.DeactivateAsync(grain);

        var after = await grain.GetState(); // activates again and replays (read-only: adds nothing to the log)
        Assert.Equal([0m, 7m], AccountGrain.Activations["replay"]); // the second activation saw the replayed balance
        Assert.Equal(host, await grain.GetSilo());
        Assert.Equal(logLength, replicator.GetLog(grain.GetGrainId()).Count);
        Assert.Equal(before.Balance, after.Balance);
        Assert.Equal(before.Items, after.Items);
        Assert.Equal(before.Notes, after.Notes); // Now, NewGuid() and Random identical on replay
    }

    [Fact]
    public async Task A_client_call_carries_the_clients_stamp()
    {
        var grain = Account("stamp");
        await grain.Deposit(1);
        await grain.Deposit(2);

        var (_, replicator) = await HostOf(grain);
        var stamps = replicator.GetReceivedStamps(grain.GetGrainId());
        var clientId = Cluster.Client.ServiceProvider.GetRequiredService<CallStampSource>().ClientId;

        Assert.Equal(2, stamps.Count);
        Assert.All(stamps, s => Assert.Equal(clientId, s.ClientId));
        Assert.True(stamps[1].Sequence > stamps[0].Sequence);
        Assert.True(stamps[0].FirstUnacknowledged <= stamps[0].Sequence);
    }

    [Fact]
    public async Task A_read_carries_no_stamp_in_its_message()
    {
        // A read has nothing to deduplicate; its stamp stays in the caller (docs/orleans-plumbing.md, "Reads carry no
        // stamp in their message"). The write before it still arrives stamped.
        var grain = Account("read-unstamped");
        await grain.Deposit(1);
        var (_, replicator) = await HostOf(grain);
        Assert.Single(replicator.GetReceivedStamps(grain.GetGrainId()));
        Assert.True((await grain.PeekStamp()).IsNone);
    }

    [Fact]
    public async Task A_read_does_not_forward_a_stamp_its_caller_inherited()
    {
        var grain = Account("read-inherited");
        await grain.Deposit(1);
        var forwarder = Cluster.Client.GetGrain<IForwarderGrain>("stamp-holder");
        Assert.True((await forwarder.PeekStampWithInheritedStamp("read-inherited")).IsNone);
    }

    [Fact]
    public async Task A_retry_after_a_lost_reply_carries_the_same_stamp_and_runs_once()
    {
        var grain = Account("retry");
        await grain.Deposit(100);

        fixture.LoseReply.Arm(nameof(IAccountGrain.Deposit));
        Assert.Equal(101m, await grain.Deposit(1)); // first reply lost; the retry is answered from the session table

        var (_, replicator) = await HostOf(grain);
        var stamps = replicator.GetReceivedStamps(grain.GetGrainId());
        Assert.Equal(3, stamps.Count);
        Assert.Equal(stamps[1], stamps[2]);
        Assert.NotEqual(stamps[0].Sequence, stamps[1].Sequence);
        Assert.Equal(2, replicator.GetLog(grain.GetGrainId()).Count);
        Assert.Equal(101m, await grain.GetBalance());
    }

    [Fact]
    public async Task A_grain_to_grain_call_is_stamped_by_the_calling_silo()
    {
        var forwarder = Cluster.Client.GetGrain<IForwarderGrain>("forwarder");
        var grain = Account("forwarded");
        Assert.Equal(3m, await forwarder.DepositTo("forwarded", 3));

        var callerSilo = await forwarder.GetSilo();
        var (_, replicator) = await HostOf(grain);
        var stamp = Assert.Single(replicator.GetReceivedStamps(grain.GetGrainId()));
        Assert.Equal(Cluster.Service<CallStampSource>(callerSilo).ClientId, stamp.ClientId);
        Assert.NotEqual(Cluster.Client.ServiceProvider.GetRequiredService<CallStampSource>().ClientId, stamp.ClientId);
    }
}

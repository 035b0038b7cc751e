using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The warm-up a silo runs at its start (<see cref="SiloWarmUp"/>): it must go through the code a grain's first
/// activation on a new silo runs (else it compiles nothing useful, and nothing would say so), and leave no trace in
/// the silo's engine or log.
/// </summary>
public sealed class SiloWarmUpTests
{
    [Fact]
    public async Task The_warm_up_group_goes_through_every_path_it_names()
    {
        var outcome = await WarmUpGroup.RunAsync();

        // 4 rounds of 3 commands, 4 of 2, then one each after the catch-up, the rebuild and the move.
        Assert.Equal(new WarmUpGroup.Outcome(Led: true, CommandsApplied: 23, ReadConfirmed: true, LaggardCaughtUp: true, RebuiltCaughtUp: true, MovedOntoNewSilo: true), outcome);
    }

    [Fact]
    public async Task Each_silo_warms_up_in_the_background_and_keeps_nothing_of_it()
    {
        await using var cluster = await ScaleOutCluster.StartAsync(3, ReplicationMode.Persisted);
        var cancel = TestContext.Current.CancellationToken;
        foreach (var silo in cluster.Silos)
        {
            var report = await cluster.Service<SiloWarmUp>(silo).Completion.WaitAsync(TimeSpan.FromSeconds(60), cancel);
            Assert.NotNull(report);
            Assert.True(report.Engine is { Led: true, LaggardCaughtUp: true, RebuiltCaughtUp: true, MovedOntoNewSilo: true }, $"the warm-up missed a path: {report.Engine}");
            // The test grains' states (AccountGrain's among them) went through Orleans' serializer and copier.
            Assert.Contains(nameof(AccountState), report.StateTypes);
            // A state type Orleans has no serializer for is named at the silo's start, not at its grain's first call.
            Assert.Contains(report.StateTypesFailed, f => f.StartsWith(typeof(UnserializableWarmUpState).FullName + ":", StringComparison.Ordinal));
            Assert.DoesNotContain(nameof(UnserializableWarmUpState), report.StateTypes);

            var runtime = cluster.Service<ReplicationRuntime>(silo);
            Assert.DoesNotContain(runtime.HeldGroupIds(), g => g.Contains("warm-up", StringComparison.Ordinal));
            Assert.Null(await runtime.StatusOfAsync(WarmUpGroup.GroupId));
        }

        // The cluster serves as before.
        Assert.Equal(5m, await cluster.Client.GetGrain<IAccountGrain>("after-warm-up").Deposit(5));
    }
}

/// <summary>A state without [GenerateSerializer], which Orleans can neither serialize nor copy (its grain is never called).</summary>
public sealed class UnserializableWarmUpState
{
    public int Value { get; set; }
}

public interface IUnserializableStateGrain : IGrainWithStringKey
{
    Task Touch();
}

public sealed class UnserializableStateGrain : ReplicatedGrain<UnserializableWarmUpState>, IUnserializableStateGrain
{
    public Task Touch()
    {
        State.Value++;
        return Task.CompletedTask;
    }
}

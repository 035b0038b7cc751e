using System.Diagnostics;
using System.Reflection;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using Orleans.Configuration;
using Orleans.Runtime;
using Orleans.Serialization;

namespace OpenReplica.Orleans;

/// <summary>
/// Runs replication's code once on throwaway data when the silo becomes active (<see cref="ReplicatedGrainsOptions.WarmUpAtStart"/>):
/// the engine through <see cref="WarmUpGroup"/>, and the serializers a grain's first activation here needs (the
/// replication messages' and every replicated grain's state: its snapshot is loaded, and each call copies it). In
/// the background: the silo's start does not wait for it, and by the time a rolling replacement or a join hands the
/// silo its first groups (seconds later) the code is compiled.
/// </summary>
internal sealed partial class SiloWarmUp(
    IOptions<ReplicatedGrainsOptions> options,
    IOptions<GrainTypeOptions> grainTypes,
    Serializer serializer,
    IServiceProvider services,
    ILocalSiloDetails localSilo,
    ILogger<SiloWarmUp> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private readonly TaskCompletionSource<Report?> _done = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>What the warm-up went through and how long it took.</summary>
    /// <param name="Engine">The engine run's outcome.</param>
    /// <param name="StateTypes">The replicated grains' state types whose serializer and copier ran (by name).</param>
    /// <param name="StateTypesFailed">State types Orleans could not serialize or copy, with why (their grains fail the same way on their first call).</param>
    /// <param name="Elapsed">Wall time of the whole run.</param>
    public sealed record Report(WarmUpGroup.Outcome Engine, IReadOnlyList<string> StateTypes, IReadOnlyList<string> StateTypesFailed, TimeSpan Elapsed);

    /// <summary>Ends with the run's report; null when the warm-up is off; faulted if the run threw (logged too).</summary>
    public Task<Report?> Completion => _done.Task;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SiloWarmUp), ServiceLifecycleStage.Active, Start, static _ => Task.CompletedTask);

    private Task Start(CancellationToken cancellationToken)
    {
        if (!options.Value.WarmUpAtStart)
        {
            _done.TrySetResult(null);
            return Task.CompletedTask;
        }
        _ = Task.Run(RunAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task RunAsync()
    {
        try
        {
            long started = Stopwatch.GetTimestamp();
            var engine = await WarmUpGroup.RunAsync();
            WarmUpMessages();
            var (warmed, failed) = WarmUpStateTypes();
            var report = new Report(engine, warmed, failed, Stopwatch.GetElapsedTime(started));
            LogWarmedUp(logger, report.Elapsed.TotalMilliseconds, engine, warmed.Count);
            foreach (string failure in failed) LogStateTypeFailed(logger, failure);
            _done.TrySetResult(report);
        }
        catch (Exception e)
        {
            // A bug in the warm-up must not stop the silo: its grains only start cold, as without it.
            LogWarmUpFailed(logger, e);
            _done.TrySetException(e);
        }
    }

    /// <summary>
    /// The Orleans-serialized messages between silos: a consensus batch, a group's status, a grain's snapshot (the
    /// consensus messages inside a batch went through their own codec in the engine run already).
    /// </summary>
    private void WarmUpMessages()
    {
        Message message = new Accepted(1, 2, new Ballot(1, 1), [1]);
        RoundTrip(new ReplicaEnvelope(localSilo.SiloAddress, [new ReplicaEnvelopeItem(WarmUpGroup.GroupId, WireCodec.Encode(message))], 1));
        RoundTrip(new GroupStatus([1, 2, 3], [1, 2, 3], Leader: true, HasActivation: true, CommitIndex: 1, Epochs: [new ConfigEpoch(0, [1, 2, 3])]));
        RoundTrip(new ReplicatedAppSnapshot { State = [1], Replies = [new StoredReply { ClientId = Guid.NewGuid(), Sequence = 1, Result = 1 }], StateDigest = 1 });
    }

    private T? RoundTrip<T>(T value) => serializer.Deserialize<T>(serializer.SerializeToArray(value));

    /// <summary>
    /// Each replicated grain class's state: a new one serialized, read back and deep-copied, as a snapshot's load and
    /// each call do. A state Orleans cannot handle is reported (its grains fail on their first call anyway).
    /// </summary>
    private (List<string> Warmed, List<string> Failed) WarmUpStateTypes()
    {
        var warmed = new List<string>();
        var failed = new List<string>();
        var method = typeof(SiloWarmUp).GetMethod(nameof(WarmUpState), BindingFlags.NonPublic | BindingFlags.Instance)!;
        foreach (var state in grainTypes.Value.Classes.Select(StateTypeOf).OfType<Type>().Where(t => !t.ContainsGenericParameters).Distinct())
        {
            try
            {
                method.MakeGenericMethod(state).Invoke(this, null);
                warmed.Add(state.Name);
            }
            catch (Exception e)
            {
                failed.Add($"{state.FullName}: {(e as TargetInvocationException)?.InnerException?.Message ?? e.Message}");
            }
        }
        return (warmed, failed);
    }

    private void WarmUpState<TState>() where TState : new()
    {
        var state = new TState();
        RoundTrip(state);
        services.GetRequiredService<DeepCopier<TState>>().Copy(state);
    }

    /// <summary>The TState of a class deriving from <see cref="ReplicatedGrain{TState}"/>; null for other grain classes.</summary>
    private static Type? StateTypeOf(Type grainClass)
    {
        for (var type = grainClass; type is not null; type = type.BaseType)
        {
            if (type.IsGenericType && type.GetGenericTypeDefinition() == typeof(ReplicatedGrain<>)) return type.GetGenericArguments()[0];
        }
        return null;
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Replication warmed up in {Ms:0} ms (engine: {Engine}; {States} replicated grain state types)")]
    private static partial void LogWarmedUp(ILogger logger, double ms, WarmUpGroup.Outcome engine, int states);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Warm-up: a new instance of a replicated grain's state type could not be serialized, read back or copied by Orleans, as its grains' calls and snapshots need: {Failure}")]
    private static partial void LogStateTypeFailed(ILogger logger, string failure);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The replication warm-up failed; the silo serves, its first grains start cold")]
    private static partial void LogWarmUpFailed(ILogger logger, Exception exception);
}

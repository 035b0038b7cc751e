using OpenReplica.Orleans.Replication;
using Orleans.Runtime;

namespace OpenReplica.Simulation.Engine;

/// <summary>
/// One activation of a simulated grain on a silo: the engine's real <see cref="GrainSession"/> leading the grain's
/// group, over a <see cref="SimKvGrain"/>. Built and started the way the silo's call replicator does it (find or
/// rebuild the group, start the session: campaign and replay), on the silo's context.
/// </summary>
internal sealed class SimActivation
{
    private readonly TaskCompletionSource _started = new();

    private readonly EngineSimulation _world;

    public SimActivation(EngineSimulation world, SimSilo silo, string groupId)
    {
        _world = world;
        Number = ++world.ActivationsMade;
        Silo = silo;
        GroupId = groupId;
        Incarnation = silo.Incarnation;
        LastUsed = world.Scheduler.Now;
        var grainId = GrainId.Create("simkv", groupId);
        Grain = new SimKvGrain((position, call, payload) => world.OnApplied(groupId, silo.Id, position, call, payload));
        var context = SimGrainContext.Create(grainId, Grain, reason => world.Scheduler.At(0, () => Stop(reason), silo.Context));
        var options = world.Options;
        Group = silo.GroupFor(groupId);
        Session = new GrainSession(context, Group, world.Serializer, silo.EntryClock, options.SnapshotEveryCommands,
            options.SnapshotOnDeactivationAfterCommands, options.MaxUnappliedCommands, silo.LogMemory, world.Faults.Replicas, world.Divergence, world.Instruments, world.Logger);
    }

    public SimSilo Silo { get; }

    /// <summary>A number for traces.</summary>
    public int Number { get; }

    public string GroupId { get; }

    public int Incarnation { get; }

    public SimKvGrain Grain { get; }

    public GrainSession Session { get; }

    /// <summary>The silo's replica of the grain's group, which this activation leads.</summary>
    public GroupReplica Group { get; }

    /// <summary>Completes when the activation leads its group and replayed its log; fails when it could not.</summary>
    public Task Started => _started.Task;

    public bool Stopped { get; private set; }

    public long LastUsed { get; set; }

    /// <summary>Alive: not stopped, and its silo is the incarnation it was made on.</summary>
    public bool Alive => !Stopped && Silo.IsUp && Silo.Incarnation == Incarnation;

    /// <summary>Campaigns and replays (on the silo's context); fails after <paramref name="timeout"/>, as a grain's activation does.</summary>
    public async Task StartAsync(EngineSimulation world, long timeout)
    {
        var cancel = new CancellationTokenSource();
        world.Scheduler.At(timeout, cancel.Cancel, Silo.Context);
        LookAgainLater(world, timeout / 4);
        try
        {
            await Session.StartAsync(cancel.Token);
            _started.TrySetResult();
        }
        catch (Exception e)
        {
            Stop("start failed: " + e.Message);
            _started.TrySetException(e);
        }
    }

    /// <summary>
    /// As the silo's host does while an activation starts (every <see cref="ConsensusCallReplicator.RecampaignAfter"/>,
    /// a fifth of the test kit's start timeout; a quarter of the simulated one here): every <paramref name="every"/>
    /// simulated ms it lets a session whose campaign was beaten campaign again.
    /// </summary>
    private void LookAgainLater(EngineSimulation world, long every) =>
        world.Scheduler.At(every, () =>
        {
            if (_started.Task.IsCompleted || !Alive) return;
            _ = Session.CampaignAgainIfIdleAsync();
            LookAgainLater(world, every);
        }, Silo.Context);

    /// <summary>Deactivation (idle, lost leadership, failure): the session detaches and resigns, as on a silo.</summary>
    public void Stop(string reason)
    {
        if (Stopped) return;
        Stopped = true;
        if (_world.Tracing) _world.Trace($"activation #{Number} of {GroupId} on silo {Silo.Id} stops: {reason}");
        if (Silo.IsUp && Silo.Incarnation == Incarnation) _ = Session.StopAsync();
        _started.TrySetException(new OpenReplica.Orleans.ReplicaUnavailableException($"activation stopped: {reason}"));
    }
}

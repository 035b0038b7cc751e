using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenReplica.Consensus;
using OpenReplica.Storage;
using Orleans;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The silo's side of every group it holds a replica of: creates group replicas on first use (from what the WAL
/// holds for them), routes peers' messages to them, sends theirs through the coalescing transport, and ticks the
/// groups that have work in flight (an idle group costs no timer).
/// </summary>
internal sealed partial class ReplicationRuntime(
    IOptions<ReplicatedGrainsOptions> options,
    ReplicaRoster roster,
    ReplicaTransport transport,
    IClusterMembershipService membership,
    ILoggerFactory loggerFactory) : IReplicaMessageSink, ILifecycleParticipant<ISiloLifecycle>
{
    public static readonly TimeSpan TickInterval = TimeSpan.FromMilliseconds(20);

    private readonly ConcurrentDictionary<string, GroupReplica> _groups = new();
    private readonly ILogger _logger = loggerFactory.CreateLogger<ReplicationRuntime>();
    private readonly CancellationTokenSource _stopping = new();
    private GroupStore? _store;

    public ReplicaRoster Roster => roster;

    public int GroupCount => _groups.Count;

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(ReplicationRuntime), ServiceLifecycleStage.RuntimeServices, StartAsync, StopAsync);

    private Task StartAsync(CancellationToken cancellationToken)
    {
        var o = options.Value;
        IReplicaLog log = o.EffectiveMode == ReplicationMode.Persisted
            ? WriteAheadLog.Open(new WalOptions { Directory = Path.Combine(o.DataDirectory!, "wal") })
            : new VolatileLog();
        _store = new GroupStore(log);
        _store.Load();
        _ = Task.Run(TickLoopAsync);
        _ = Task.Run(WatchMembershipAsync);
        return Task.CompletedTask;
    }

    private async Task StopAsync(CancellationToken cancellationToken)
    {
        _stopping.Cancel();
        if (_store is { } store) await store.DisposeAsync();
    }

    /// <summary>The group name carries what every replica needs to compute the group's first configuration.</summary>
    public static string GroupIdOf(GrainId grainId, int replicas) => $"{replicas}|{grainId}";

    private static (GrainId GrainId, int Replicas) ParseGroupId(string groupId)
    {
        int bar = groupId.IndexOf('|');
        return (GrainId.Parse(groupId[(bar + 1)..]), int.Parse(groupId[..bar]));
    }

    public async Task<GroupReplica> GetOrCreateAsync(GrainId grainId, int replicas, CancellationToken cancellationToken)
    {
        string groupId = GroupIdOf(grainId, replicas);
        if (_groups.TryGetValue(groupId, out var existing) && !existing.Failed) return existing;
        var config = await roster.ConfigForAsync(grainId, replicas, cancellationToken);
        return GetOrCreate(groupId, config);
    }

    private GroupReplica GetOrCreate(string groupId, ClusterConfig config)
    {
        if (_groups.TryGetValue(groupId, out var existing) && !existing.Failed) return existing;
        lock (_groups)
        {
            if (_groups.TryGetValue(groupId, out existing) && !existing.Failed) return existing;
            var store = _store ?? throw new InvalidOperationException("replicated grains are not started on this silo yet");
            var coreOptions = CoreOptions(config);
            var persisted = store.TakePersisted(groupId);
            var core = persisted is null ? new PaxosReplica(coreOptions) : PaxosReplica.Restart(coreOptions, persisted);
            var group = new GroupReplica(groupId, core, store, Send, _logger);
            _groups[groupId] = group;
            return group;
        }
    }

    private ReplicaOptions CoreOptions(ClusterConfig config) => new()
    {
        ReplicaId = roster.LocalReplicaId,
        InitialConfig = config,
        Window = options.Value.Window,
        MaxBatchCommands = options.Value.MaxBatchCommands,
        ElectionTimeoutTicks = 0, // grain groups lead on request: the activation campaigns
        HeartbeatTicks = 2,
        RetransmitTicks = 5,
        RandomSeed = (ulong)roster.LocalReplicaId,
    };

    public void OnMessages(SiloAddress from, IReadOnlyList<ReplicaEnvelopeItem> items)
    {
        foreach (var item in items)
        {
            var message = WireCodec.DecodeMessage(item.Payload);
            if (message.To != roster.LocalReplicaId) continue; // addressed to a replica this silo no longer is
            if (!_groups.TryGetValue(item.GroupId, out var group))
            {
                var (grainId, replicas) = ParseGroupId(item.GroupId);
                if (roster.Members is null)
                {
                    _ = roster.ResolveAsync(_stopping.Token); // learn it; the sender retransmits meanwhile
                    continue;
                }
                group = GetOrCreate(item.GroupId, roster.ConfigForAsync(grainId, replicas, CancellationToken.None).GetAwaiter().GetResult());
            }
            group.Post(core => core.Step(message));
        }
    }

    private void Send(string groupId, Message message)
    {
        if (roster.SiloOf(message.To) is { } silo)
        {
            transport.Send(silo, groupId, WireCodec.Encode(message));
        }
        else
        {
            // Unknown address (the replica's silo is down or not yet seen): drop; the core retransmits.
            _ = roster.RefreshAddressesAsync();
        }
    }

    private async Task TickLoopAsync()
    {
        using var timer = new PeriodicTimer(TickInterval);
        try
        {
            while (await timer.WaitForNextTickAsync(_stopping.Token))
            {
                foreach (var group in _groups.Values)
                {
                    if (group.NeedsTicks) group.Post(core => core.Tick());
                }
            }
        }
        catch (OperationCanceledException)
        {
        }
    }

    private async Task WatchMembershipAsync()
    {
        try
        {
            await foreach (var _ in membership.MembershipUpdates.WithCancellation(_stopping.Token))
            {
                await roster.RefreshAddressesAsync();
            }
        }
        catch (OperationCanceledException)
        {
        }
        catch (Exception e)
        {
            LogMembershipWatchFailed(_logger, e);
        }
    }

    [LoggerMessage(Level = LogLevel.Error, Message = "Replica address watcher stopped")]
    private static partial void LogMembershipWatchFailed(ILogger logger, Exception exception);
}

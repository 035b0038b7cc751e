using System.Runtime.CompilerServices;
using Microsoft.Extensions.DependencyInjection;
using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using OpenReplica.Orleans.Testing;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A consensus cluster for fault tests: kills silos and restarts them under the same name, so with the same data
/// directory (same replica identity, WAL and roster): a restarted silo rejoins as the same replica.
/// </summary>
internal sealed class FaultCluster : IAsyncDisposable
{
    /// <summary>Orleans' own response timeout, kept on purpose: calls behind a lost gateway must be retried early, not after it.</summary>
    private static readonly TimeSpan OrleansResponseTimeout = TimeSpan.FromSeconds(30);

    private readonly ReplicatedTestCluster _kit;
    private readonly RecentLog _recentLog;

    private FaultCluster(ReplicatedTestCluster kit, RecentLog recentLog) => (_kit, _recentLog) = (kit, recentLog);

    public InProcessTestCluster Cluster => _kit.Cluster;

    public string DataRoot => _kit.DataRoot!;

    public IClusterClient Client => _kit.Client;

    /// <summary>Live silos: the cluster's own plus those this harness restarted.</summary>
    public IReadOnlyList<InProcessSiloHandle> Silos => _kit.Silos;

    /// <summary>A Persisted cluster from the test kit (<see cref="ReplicatedTestCluster"/>), with these tests' settings.</summary>
    public static async Task<FaultCluster> StartAsync(
        int silos = 3,
        int replicationFactor = 3,
        TimeSpan? callTimeout = null,
        int snapshotEvery = ReplicatedGrainsOptions.DefaultSnapshotEveryCommands,
        int clientRetries = ReplicatedClientOptions.Unlimited,
        TimeSpan? clientDeadline = null,
        Action<ISiloBuilder>? configureSilo = null,
        Action<IClientBuilder>? configureClient = null)
    {
        var recentLog = new RecentLog();
        var kit = await ReplicatedTestCluster.StartAsync(o =>
        {
            o.Silos = silos;
            o.ReplicationFactor = replicationFactor;
            o.Mode = ReplicationMode.Persisted;
            o.CallTimeout = callTimeout ?? ReplicatedTestClusterOptions.DefaultCallTimeout;
            o.ConfigureReplication = r => r.SnapshotEveryCommands = snapshotEvery;
            o.ConfigureSilo = silo =>
            {
                FileLoggerProvider.AddTo(silo);
                recentLog.AddTo(silo);
                configureSilo?.Invoke(silo);
            };
            o.ConfigureClient = client =>
            {
                client.UseReplicatedGrains(r =>
                {
                    r.MaxRetries = clientRetries;
                    r.CallDeadline = clientDeadline ?? ReplicatedClientOptions.DefaultCallDeadline;
                });
                client.Services.Configure<ClientMessagingOptions>(m => m.ResponseTimeout = OrleansResponseTimeout);
                configureClient?.Invoke(client);
            };
        });
        return new FaultCluster(kit, recentLog);
    }

    public InProcessSiloHandle HandleOf(SiloAddress silo) => Silos.Single(s => s.SiloAddress.Equals(silo));

    public T Service<T>(InProcessSiloHandle silo)
        where T : notnull => silo.SiloHost.Services.GetRequiredService<T>();

    /// <summary>Kills a silo abruptly (no graceful shutdown) and waits until membership declares it dead.</summary>
    public Task KillAsync(InProcessSiloHandle silo) => _kit.KillSiloAsync(silo);

    /// <summary>
    /// Starts a dead silo again under its instance number, hence its name and data directory, and waits until every
    /// live silo knows where its replica now runs.
    /// </summary>
    public async Task<InProcessSiloHandle> RestartAsync(InProcessSiloHandle dead)
    {
        var handle = await _kit.RestartSiloAsync(dead);
        Assert.Equal(dead.Name, handle.Name); // same name: same data directory, same replica identity
        long replicaId = Service<ReplicaRoster>(handle).LocalReplicaId;
        await Poll.UntilAsync(
            () => Silos.All(s => Equals(Service<ReplicaRoster>(s).SiloOf(replicaId), handle.SiloAddress)),
            $"every silo learned the address of restarted {handle.Name}",
            TimeSpan.FromSeconds(30));
        return handle;
    }

    /// <summary>Silo configuration that puts every silo's WAL on <paramref name="fileSystem"/> (a disk that fills up or fails fsyncs).</summary>
    public static Action<ISiloBuilder> WalOn(OpenReplica.Storage.IFileSystem fileSystem) =>
        silo => silo.Services.Configure<ReplicatedGrainsOptions>(o => o.WalFileSystem = fileSystem);

    /// <summary>The group id of a grain (its replica count is the cluster's replication factor).</summary>
    public static string GroupOf(GrainId grain, int replicas = 3) => ReplicationRuntime.GroupIdOf(grain, replicas);

    /// <summary>
    /// Reads every live silo's chosen entries of the group and asserts they agree on every slot held by more than one
    /// (same command ids and payloads); returns the union, slot by slot.
    /// </summary>
    public async Task<SortedDictionary<long, LogEntry>> AssertLogsAgreeAsync(string groupId)
    {
        var union = new SortedDictionary<long, (LogEntry Entry, string Silo)>();
        int compared = 0;
        foreach (var silo in Silos)
        {
            var entries = await Service<ReplicationRuntime>(silo).ChosenEntriesAsync(groupId);
            foreach (var entry in entries)
            {
                if (union.TryGetValue(entry.Slot, out var seen))
                {
                    compared++;
                    Assert.True(
                        SameValue(seen.Entry.Value, entry.Value),
                        $"slot {entry.Slot}: {seen.Silo} chose {seen.Entry.Value}, {silo.Name} chose {entry.Value}");
                }
                else
                {
                    union[entry.Slot] = (entry, silo.Name);
                }
            }
        }

        Assert.True(compared > 0, $"group {groupId}: no slot is held by two live replicas, nothing to compare");
        return new SortedDictionary<long, LogEntry>(union.ToDictionary(kv => kv.Key, kv => kv.Value.Entry));
    }

    /// <summary>Each live silo's view of the group (for failure messages); a loop that does not answer is reported as stuck.</summary>
    public async Task<string> DescribeAsync(string groupId)
    {
        var lines = new List<string>();
        foreach (var silo in Silos)
        {
            var describe = Service<ReplicationRuntime>(silo).DescribeAsync(groupId);
            var done = await Task.WhenAny(describe, Task.Delay(TimeSpan.FromSeconds(2)));
            lines.Add($"{silo.Name} {silo.SiloAddress}: {(done == describe ? describe.Result : "LOOP STUCK")}");
        }

        return string.Join("; ", lines);
    }

    /// <summary>Each live silo's roster version and what its rebalancer last found (for failure messages).</summary>
    public string DescribeRebalancers() => string.Join("; ", Silos.Select(silo =>
    {
        var rebalancer = Service<Rebalancer>(silo);
        return $"{silo.Name}: roster v{Service<ReplicaRoster>(silo).Version}, settled at v{rebalancer.SettledVersion}, {rebalancer.Progress}";
    }));

    private static bool SameValue(LogValue a, LogValue b) =>
        a.Kind == b.Kind
        && a.Commands.Count == b.Commands.Count
        && a.Commands.Zip(b.Commands).All(p => p.First.Id == p.Second.Id && p.First.Payload.AsSpan().SequenceEqual(p.Second.Payload))
        && Equals(a.Config, b.Config);

    public async ValueTask DisposeAsync()
    {
        _recentLog.WriteToTestOutput(); // before the silos stop: their shutdown lines would push out the failure's
        await _kit.DisposeAsync();
    }
}

/// <summary>Calls a grain until it answers (retrying what the client's own retries gave up on), with a deadline.</summary>
internal static class Eventually
{
    public static async Task<T> CallAsync<T>(Func<Task<T>> call, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(30));
        while (true)
        {
            try
            {
                return await call();
            }
            catch (Exception e) when (CallRetryPolicy.IsRetriable(e) || e is ReplicaSetUnavailableException or OrleansException or CallOutcomeUnknownException)
            {
                if (DateTime.UtcNow > deadline) throw new TimeoutException($"{what}: still failing after the deadline", e);
                await Task.Delay(50);
            }
        }
    }

    public static Task CallAsync(Func<Task> call, string what, TimeSpan? timeout = null) =>
        CallAsync(async () =>
        {
            await call();
            return true;
        }, what, timeout);
}

/// <summary>
/// Wires activations of <see cref="ShadowRegisterGrain"/> to the group of the <see cref="CasRegisterGrain"/> with the
/// same key, through a grain context that reports the register's id: a second activation of that grain, which
/// campaigns, replays, proposes and applies exactly as a duplicate Orleans activation would.
/// </summary>
internal sealed class ShadowingReplicator(ICallReplicator inner) : ICallReplicator
{
    private static readonly GrainType Shadow = GrainType.Create(ShadowRegisterGrain.TypeName);
    private static readonly GrainType Target = GrainType.Create(CasRegisterGrain.TypeName);
    private readonly ConditionalWeakTable<IGrainContext, AliasGrainContext> _aliases = [];

    public Task RecoverAsync(IGrainContext grain, CancellationToken cancellationToken) => inner.RecoverAsync(Map(grain), cancellationToken);

    public Task<object?> ReplicateAsync(IGrainContext grain, byte[] invokable, CallStamp stamp, CancellationToken cancellationToken) =>
        inner.ReplicateAsync(Map(grain), invokable, stamp, cancellationToken);

    public bool CanReadLocally(IGrainContext grain) => inner.CanReadLocally(Map(grain));

    public Task ReadBarrierAsync(IGrainContext grain, CancellationToken cancellationToken) => inner.ReadBarrierAsync(Map(grain), cancellationToken);

    public Task DetachAsync(IGrainContext grain) => inner.DetachAsync(Map(grain));

    public void Activated(IGrainContext grain) => inner.Activated(Map(grain));

    public Task<CallResolution> ResolveCallAsync(IGrainContext grain, CallStamp stamp, CancellationToken cancellationToken) =>
        inner.ResolveCallAsync(Map(grain), stamp, cancellationToken);

    private IGrainContext Map(IGrainContext grain) =>
        grain.GrainId.Type.Equals(Shadow)
            ? _aliases.GetValue(grain, g => new AliasGrainContext(g, GrainId.Create(Target, g.GrainId.Key)))
            : grain;
}

/// <summary>A grain context that is <paramref name="inner"/> in everything but its grain id.</summary>
internal sealed class AliasGrainContext(IGrainContext inner, GrainId alias) : IGrainContext
{
    public GrainReference GrainReference => inner.GrainReference;

    public GrainId GrainId => alias;

    public object? GrainInstance => inner.GrainInstance;

    public ActivationId ActivationId => inner.ActivationId;

    public GrainAddress Address => inner.Address;

    public IServiceProvider ActivationServices => inner.ActivationServices;

    public IGrainLifecycle ObservableLifecycle => inner.ObservableLifecycle;

    public IWorkItemScheduler Scheduler => inner.Scheduler;

    public Task Deactivated => inner.Deactivated;

    public void SetComponent<TComponent>(TComponent? value)
        where TComponent : class => inner.SetComponent(value);

    public void ReceiveMessage(object message) => inner.ReceiveMessage(message);

    public void Activate(Dictionary<string, object>? requestContext, CancellationToken cancellationToken) => inner.Activate(requestContext, cancellationToken);

    public void Deactivate(DeactivationReason deactivationReason, CancellationToken cancellationToken) => inner.Deactivate(deactivationReason, cancellationToken);

    public void Rehydrate(IRehydrationContext context) => inner.Rehydrate(context);

    public void Migrate(Dictionary<string, object>? requestContext, CancellationToken cancellationToken) => inner.Migrate(requestContext, cancellationToken);

    public object? GetTarget() => inner.GetTarget();

    public object? GetComponent(Type componentType) => inner.GetComponent(componentType);

    public bool Equals(IGrainContext? other) => ReferenceEquals(this, other);
}

using Microsoft.Extensions.DependencyInjection;
using OpenReplica.Orleans;
using OpenReplica.Orleans.Testing;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace OpenReplica.Coordination.Tests;

/// <summary>A 3-silo TestingHost cluster running the coordination grains on real consensus.</summary>
internal static class CoordinationCluster
{
    /// <summary>
    /// Client calls wait at most this long for a reply before the stamping filter retries them with the same stamp;
    /// short so that a blocked call whose silo died is retried promptly (a retry of a deferred call waits for the same answer).
    /// </summary>
    public static readonly TimeSpan ResponseTimeout = TimeSpan.FromSeconds(3);

    /// <summary>A Volatile cluster from the test kit (fast failure detection, quick client retries); the caller disposes it.</summary>
    public static async Task<InProcessTestCluster> StartAsync(Action<IServiceCollection>? configureSilo = null)
    {
        var kit = await ReplicatedTestCluster.StartAsync(o =>
        {
            o.Mode = ReplicationMode.Volatile;
            o.ConfigureClient = client =>
            {
                client.UseReplicatedGrains(r => r.MaxRetries = 100);
                client.Services.Configure<ClientMessagingOptions>(m => m.ResponseTimeout = ResponseTimeout);
            };
            if (configureSilo is not null) o.ConfigureSilo = silo => configureSilo(silo.Services);
        });
        return kit.Cluster;
    }

    /// <summary>
    /// Callers with distinct sessions (owners): the cluster client, and each silo's own grain factory (a silo's calls
    /// carry that silo's session). Index 0 is the client, 1 + i is silo i.
    /// </summary>
    public static IGrainFactory[] Sessions(this InProcessTestCluster cluster) =>
        [cluster.Client, .. cluster.Silos.Select(s => cluster.GetSiloServiceProvider(s.SiloAddress).GetRequiredService<IGrainFactory>())];

    /// <summary>The silo hosting the grain's activation (activating it with <paramref name="touch"/> first).</summary>
    public static async Task<SiloAddress> SiloOfAsync(this InProcessTestCluster cluster, IAddressable grain, Func<Task> touch)
    {
        await touch();
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        SiloAddress? silo = null;
        await Poll.UntilAsync(async () => (silo = await management.GetActivationAddress(grain)) is not null, "activation address known");
        return silo!;
    }

    /// <summary>Kills a silo abruptly and waits until membership declares it dead (no fixed sleep).</summary>
    public static async Task KillAndWaitDeadAsync(this InProcessTestCluster cluster, SiloAddress address)
    {
        var silo = cluster.Silos.Single(s => s.SiloAddress.Equals(address));
        await cluster.KillSiloAsync(silo);
        var management = cluster.Client.GetGrain<IManagementGrain>(0);
        await Poll.UntilAsync(async () =>
        {
            try
            {
                var hosts = await management.GetHosts(onlyActive: true);
                return !hosts.ContainsKey(address);
            }
            catch (Exception)
            {
                return false;
            }
        }, $"silo {address} declared dead", TimeSpan.FromSeconds(30));
    }
}

/// <summary>One cluster shared by the tests that do not kill silos.</summary>
public sealed class CoordinationClusterFixture : IAsyncLifetime
{
    public InProcessTestCluster Cluster { get; private set; } = null!;

    /// <summary>Distinct sessions: [0] the client, [1..3] the silos.</summary>
    public IGrainFactory[] Sessions { get; private set; } = [];

    /// <summary>The session id of each of <see cref="Sessions"/>.</summary>
    public Guid[] SessionIds { get; private set; } = [];

    public async ValueTask InitializeAsync()
    {
        Cluster = await CoordinationCluster.StartAsync();
        Sessions = Cluster.Sessions();
        SessionIds = await Task.WhenAll(Sessions.Select(s => s.GetGrain<ILockGrain>("session-probe").GetSessionId()));
    }

    public async ValueTask DisposeAsync() => await Cluster.DisposeAsync();
}

[CollectionDefinition(Name)]
public sealed class CoordinationCollection : ICollectionFixture<CoordinationClusterFixture>
{
    public const string Name = "coordination cluster";
}

/// <summary>Tests that start clusters of their own: one at a time (three silos each, besides the shared cluster).</summary>
[CollectionDefinition(Name)]
public sealed class OwnClusterCollection
{
    public const string Name = "coordination tests with their own cluster";
}

internal static class Poll
{
    /// <summary>Polls <paramref name="condition"/> until true or the deadline passes (then fails naming <paramref name="what"/>).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out waiting for: {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>Awaits a task that must complete within <paramref name="timeout"/>.</summary>
    public static Task<T> Within<T>(this Task<T> task, double seconds = 20) =>
        task.WaitAsync(TimeSpan.FromSeconds(seconds), TestContext.Current.CancellationToken);

    public static Task Within(this Task task, double seconds = 20) =>
        task.WaitAsync(TimeSpan.FromSeconds(seconds), TestContext.Current.CancellationToken);
}

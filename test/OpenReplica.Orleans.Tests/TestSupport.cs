using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using OpenReplica.Orleans.Testing;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace OpenReplica.Orleans.Tests;

/// <summary>Records what the replica host delivers on its silo.</summary>
internal sealed class RecordingSink : IReplicaMessageSink
{
    private int _calls;

    public ConcurrentQueue<(SiloAddress From, ReplicaEnvelopeItem Item)> Items { get; } = new();

    public int Calls => Volatile.Read(ref _calls);

    /// <summary>Every delivered batch, as it arrived.</summary>
    public ConcurrentQueue<IReadOnlyList<ReplicaEnvelopeItem>> Batches { get; } = new();

    public void OnMessages(SiloAddress from, IReadOnlyList<ReplicaEnvelopeItem> items)
    {
        Interlocked.Increment(ref _calls);
        Batches.Enqueue(items);
        foreach (var item in items)
        {
            Items.Enqueue((from, item));
        }
    }
}

/// <summary>
/// Client filter inside the stamping filter: when armed for a method, lets the first call run on the grain and
/// then loses its reply (throws <see cref="TimeoutException"/>), as a dropped response would.
/// </summary>
internal sealed class LoseFirstReplyFilter : IOutgoingGrainCallFilter
{
    private string? _armedMethod;

    public void Arm(string methodName) => Volatile.Write(ref _armedMethod, methodName);

    public async Task Invoke(IOutgoingGrainCallContext context)
    {
        await context.Invoke();
        if (context.MethodName == Volatile.Read(ref _armedMethod)
            && Interlocked.CompareExchange(ref _armedMethod, null, context.MethodName) == context.MethodName)
        {
            throw new TimeoutException($"Injected: reply of {context.MethodName} lost.");
        }
    }
}

internal static class TestCluster3
{
    public static InProcessTestCluster Build(LoseFirstReplyFilter? clientFilter = null)
    {
        var builder = new InProcessTestClusterBuilder(3);
        builder.ConfigureSilo((_, silo) =>
        {
            silo.Services.AddSingleton<IReplicaMessageSink, RecordingSink>();
            // The plumbing tests run on the in-memory stand-in replicator (no consensus) to observe the mechanics.
            silo.Services.AddSingleton<LocalCallReplicator>();
            silo.Services.AddSingleton<ICallReplicator>(sp => sp.GetRequiredService<LocalCallReplicator>());
            silo.AddReplicatedGrains(o => o.CallTimeout = TimeSpan.FromSeconds(10));
            ReplicatedTestCluster.UseFastFailureDetection(silo.Services);
        });
        builder.ConfigureClient(client =>
        {
            client.UseReplicatedGrains(o =>
            {
                o.MaxRetries = 20;
                o.InitialBackoff = TimeSpan.FromMilliseconds(20);
                o.MaxBackoff = TimeSpan.FromMilliseconds(200);
            });
            if (clientFilter is not null)
            {
                client.Services.AddSingleton<IOutgoingGrainCallFilter>(clientFilter);
            }

            client.Services.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromMilliseconds(500));
        });
        return builder.Build();
    }

    /// <summary>The test kit's fast failure detection (kept for the scale-out cluster, which calls it by this name).</summary>
    internal static void ConfigureFastMembership(IServiceCollection services) => ReplicatedTestCluster.UseFastFailureDetection(services);
}

internal static class Poll
{
    /// <summary>Polls <paramref name="condition"/> until true or the deadline passes (then fails with <paramref name="what"/>).</summary>
    public static async Task UntilAsync(Func<Task<bool>> condition, string what, TimeSpan? timeout = null, Func<Task<string>>? describe = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(20));
        while (!await condition())
        {
            if (DateTime.UtcNow > deadline)
            {
                string state = describe is null ? "" : $"{Environment.NewLine}{await describe()}";
                Assert.Fail($"Timed out waiting for: {what}{state}");
            }

            await Task.Delay(20);
        }
    }

    public static Task UntilAsync(Func<bool> condition, string what, TimeSpan? timeout = null) =>
        UntilAsync(() => Task.FromResult(condition()), what, timeout);
}

internal static class ClusterExtensions
{
    public static T Service<T>(this InProcessTestCluster cluster, SiloAddress silo)
        where T : notnull =>
        cluster.GetSiloServiceProvider(silo).GetRequiredService<T>();
}

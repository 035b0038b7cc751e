using System.Diagnostics;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace OpenReplica.Orleans.Tests;

/// <summary>Fault tests start and kill whole clusters: they run one at a time so that 2 cores keep membership probes on time.</summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class FaultCollection
{
    public const string Name = "fault";
}

internal static class FaultTestSupport
{
    /// <summary>
    /// The first grain of <paramref name="prefix"/>-i whose activation is not on the cluster's first silo (that silo
    /// is the in-process cluster's anchor; tests kill the others).
    /// </summary>
    public static async Task<(T Grain, SiloAddress Silo)> GrainOffFirstSiloAsync<T>(
        this FaultCluster cluster, string prefix, Func<string, T> get, Func<T, Task<SiloAddress>> siloOf)
    {
        var first = cluster.Cluster.Silos[0].SiloAddress;
        for (int i = 0; i < 100; i++)
        {
            var grain = get($"{prefix}-{i}");
            var silo = await siloOf(grain);
            if (!silo.Equals(first)) return (grain, silo);
        }

        throw new InvalidOperationException("every grain landed on the first silo");
    }

    /// <summary>
    /// Deactivates a grain (through <paramref name="deactivate"/>) and calls it with a placement hint until its new
    /// activation runs on <paramref name="target"/> (the director honours hints that name a replica silo).
    /// </summary>
    public static async Task MoveAsync(Func<Task> deactivate, Func<Task<SiloAddress>> siloOf, SiloAddress target, Func<Task<string>>? describe = null)
    {
        // The hint also rides on the deactivation call: if that call is cut off by the deactivation itself, the client
        // retries it (same stamp), and the retry's reactivation must land on the target too.
        RequestContext.Set(IPlacementDirector.PlacementHintKey, target);
        try
        {
            await Eventually.CallAsync(deactivate, "deactivate");
        }
        finally
        {
            RequestContext.Remove(IPlacementDirector.PlacementHintKey);
        }
        var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(30);
        string last = "nothing yet";
        while (true)
        {
            RequestContext.Set(IPlacementDirector.PlacementHintKey, target);
            try
            {
                var silo = await siloOf();
                if (silo.Equals(target)) return;
                last = $"still on {silo}";
                await deactivate();
            }
            catch (Exception e) when (CallRetryPolicy.IsRetriable(e) || e is OrleansException)
            {
                last = $"{e.GetType().Name}: {e.Message}";
            }
            finally
            {
                RequestContext.Remove(IPlacementDirector.PlacementHintKey);
            }

            if (DateTime.UtcNow > deadline)
            {
                Assert.Fail($"grain not reactivated on {target}; last: {last}; {(describe is null ? "" : await describe())}");
            }

            await Task.Delay(50);
        }
    }

    public static long Now() => Stopwatch.GetTimestamp();

    /// <summary>Polls until <paramref name="condition"/> holds; on timeout fails with <paramref name="what"/>, evaluated then.</summary>
    public static async Task UntilAsync(Func<bool> condition, Func<string> what, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (!condition())
        {
            if (DateTime.UtcNow > deadline) Assert.Fail($"Timed out waiting for: {what()}");
            await Task.Delay(20);
        }
    }
}

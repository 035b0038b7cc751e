using System.Reflection;
using OpenReplica.Orleans;

namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// How many consensus groups the silos hold in memory (<c>ReplicationRuntime.GroupCount</c>). The runtime is
/// internal to the library and the tool may not change src/, so it is read by reflection; null when the library
/// no longer has that shape.
/// </summary>
internal static class ReplicaGroups
{
    private static readonly Type? Runtime = typeof(ReplicaTransport).Assembly.GetType("OpenReplica.Orleans.Replication.ReplicationRuntime");
    private static readonly PropertyInfo? Count = Runtime?.GetProperty("GroupCount", BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance);

    /// <summary>The silos' replication runtimes (each holds its silo's groups); empty when the library no longer has that shape.</summary>
    public static IEnumerable<object> Runtimes(LocalCluster cluster) =>
        Runtime is null ? [] : cluster.LiveSiloServices().Select(s => s.GetService(Runtime)).OfType<object>();

    public static long? Held(LocalCluster cluster)
    {
        if (Runtime is null || Count is null) return null;
        long total = 0;
        foreach (var runtime in Runtimes(cluster))
        {
            if (Count.GetValue(runtime) is not int n) return null;
            total += n;
        }
        return total;
    }
}

using System.Reflection;
using OpenReplica.Orleans;

namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// What the silos' engines hold in memory: consensus groups (<c>ReplicationRuntime.GroupCount</c>), groups evicted so
/// far (<c>GroupsEvicted</c>) and groups whose WAL index is resident (<c>WalResidentGroups</c>). The runtime is
/// internal to the library, so it is read by reflection; null when the library no longer has that shape.
/// </summary>
internal static class ReplicaGroups
{
    private static readonly Type? Runtime = typeof(ReplicaTransport).Assembly.GetType("OpenReplica.Orleans.Replication.ReplicationRuntime");
    private const BindingFlags Members = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance;
    private static readonly PropertyInfo? Count = Runtime?.GetProperty("GroupCount", Members);
    private static readonly PropertyInfo? EvictedCount = Runtime?.GetProperty("GroupsEvicted", Members);
    private static readonly PropertyInfo? WalResidentCount = Runtime?.GetProperty("WalResidentGroups", Members);

    /// <summary>The silos' replication runtimes (each holds its silo's groups); empty when the library no longer has that shape.</summary>
    public static IEnumerable<object> Runtimes(LocalCluster cluster) =>
        Runtime is null ? [] : cluster.LiveSiloServices().Select(s => s.GetService(Runtime)).OfType<object>();

    /// <summary>Groups in the silos' memory (3 silos together).</summary>
    public static long? Held(LocalCluster cluster) => Sum(cluster, Count);

    /// <summary>Groups the silos' engines evicted since they started.</summary>
    public static long? Evicted(LocalCluster cluster) => Sum(cluster, EvictedCount);

    /// <summary>Groups whose WAL index is in the silos' memory (Persisted; null for the volatile log).</summary>
    public static long? WalResident(LocalCluster cluster) => Sum(cluster, WalResidentCount);

    private static long? Sum(LocalCluster cluster, PropertyInfo? property)
    {
        if (Runtime is null || property is null) return null;
        long total = 0;
        foreach (var runtime in Runtimes(cluster))
        {
            switch (property.GetValue(runtime))
            {
                case int n: total += n; break;
                case long n: total += n; break;
                default: return null;
            }
        }
        return total;
    }
}

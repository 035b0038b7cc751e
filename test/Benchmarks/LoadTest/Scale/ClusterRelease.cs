namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// Waits until a stopped cluster's replication runtimes (which hold every replica group) are garbage collected.
/// If the next fleet's baseline were weighed while they are still reachable, their later release would be charged
/// to that fleet as negative bytes per grain.
/// </summary>
internal static class ClusterRelease
{
    /// <summary>Weak references to the cluster's runtimes; take them before disposing it and drop the cluster itself.</summary>
    public static IReadOnlyList<WeakReference> Track(LocalCluster cluster) =>
        [.. ReplicaGroups.Runtimes(cluster).Select(r => new WeakReference(r))];

    /// <summary>Returns whether every runtime was collected within <paramref name="bound"/>.</summary>
    public static async Task<bool> AwaitCollectionAsync(IReadOnlyList<WeakReference> runtimes, TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            HeapMeter.LiveBytes();
            if (runtimes.All(r => !r.IsAlive)) return true;
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(500);
        }
    }
}

namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// Disposes a cluster and waits until its silos' service providers are garbage collected. A stopped silo's
/// objects (here: tens of thousands of replica groups) stay reachable for a while after <c>StopAsync</c> (timers and
/// loops that end later); if the next fleet's baseline were weighed before they go, their release would be
/// charged to that fleet as negative bytes per grain.
/// </summary>
internal static class ClusterRelease
{
    /// <summary>Returns whether every silo was collected within <paramref name="bound"/>.</summary>
    public static async Task<bool> DisposeAndAwaitCollectionAsync(LocalCluster cluster, TimeSpan bound)
    {
        var silos = cluster.LiveSiloServices().Select(s => new WeakReference(s)).ToList();
        await cluster.DisposeAsync();
        var deadline = DateTime.UtcNow + bound;
        while (true)
        {
            HeapMeter.LiveBytes();
            if (silos.All(s => !s.IsAlive)) return true;
            if (DateTime.UtcNow > deadline) return false;
            await Task.Delay(500);
        }
    }
}

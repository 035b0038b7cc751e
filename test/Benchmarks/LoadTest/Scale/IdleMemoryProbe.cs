using System.Diagnostics;
using OpenReplica.Orleans;

namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// Creates N grains of one class (one write each, 64 callers), weighs the heap with them active, makes them all
/// deactivate, and weighs heap and disk again: what is left is what the cluster keeps per idle grain.
/// </summary>
internal static class IdleMemoryProbe
{
    public static async Task<IdleMemoryResult> MeasureAsync(LocalCluster cluster, string label, string grainClass, string keyPrefix, int count,
        TimeSpan bound, Action<string> status)
    {
        var client = cluster.Client;
        string typeName = TypeNameOf(grainClass);
        long heapBefore = await HeapMeter.SettledLiveBytesAsync(TimeSpan.FromSeconds(10));
        long diskBefore = DataDirectory.Bytes(cluster.DataRoot);
        long? groupsBefore = ReplicaGroups.Held(cluster);

        status($"{label}: creating {count:N0} grains");
        var created = await CreateAsync(client, grainClass, keyPrefix, count, bound);
        int activated = await Deactivation.CountAsync(client, typeName);
        long heapActive = HeapMeter.LiveBytes();

        status($"{label}: deactivating {activated:N0} activations");
        var (deactivated, left) = await Deactivation.CollectAsync(client, typeName, bound);
        // Deactivation ends with asynchronous clean-up (directory unregistration, the replica detaching): let it finish.
        await Task.Delay(TimeSpan.FromSeconds(1));
        // Idle groups leave the silos' memory after IdleGroupEvictionAfter (default 30 s) and an eviction sweep: wait
        // (bounded) until the groups held are back near what was held before the fleet, then weigh.
        status($"{label}: waiting for idle groups to leave memory");
        var evictionBound = Stopwatch.StartNew();
        while (evictionBound.Elapsed < ReplicatedGrainsOptions.DefaultIdleGroupEvictionAfter + TimeSpan.FromSeconds(30)
            && ReplicaGroups.Held(cluster) is long held && held > (groupsBefore ?? 0) + count / 100)
        {
            await Task.Delay(TimeSpan.FromMilliseconds(500));
        }
        long heapIdle = await HeapMeter.SettledLiveBytesAsync(TimeSpan.FromSeconds(10));
        long diskIdle = DataDirectory.Bytes(cluster.DataRoot);
        long? groupsIdle = ReplicaGroups.Held(cluster);
        long? walResident = ReplicaGroups.WalResident(cluster);
        var idle = await Runner.IdleAsync(TimeSpan.FromSeconds(2), cluster.ConsensusMessages);
        return new IdleMemoryResult(label, count, activated, created, deactivated, left, heapBefore, heapActive, heapIdle,
            diskBefore, diskIdle, groupsBefore, groupsIdle, walResident, idle.CpuPercent, idle.MessagesPerSecond);
    }

    /// <summary>
    /// In its own method so the array of grain references is garbage once it returns (an async method's locals
    /// live as long as its state machine, which would put them in the measurement).
    /// </summary>
    public static async Task<TimeSpan> CreateAsync(IClusterClient client, string grainClass, string keyPrefix, int count, TimeSpan bound)
    {
        var grains = new ICounterGrain[count];
        for (int i = 0; i < count; i++) grains[i] = client.GetGrain<ICounterGrain>($"{keyPrefix}-{i}", grainClass);
        return await Runner.ActivateAsync(grains, bound);
    }

    /// <summary>Orleans' grain type name of a class: its short name, lower case, without the "Grain" suffix.</summary>
    public static string TypeNameOf(string grainClass)
    {
        string name = grainClass[(grainClass.LastIndexOf('.') + 1)..];
        return (name.EndsWith("Grain", StringComparison.Ordinal) ? name[..^"Grain".Length] : name).ToLowerInvariant();
    }
}

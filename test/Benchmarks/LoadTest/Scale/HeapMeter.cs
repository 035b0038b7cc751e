using System.Runtime;

namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// Live managed heap of the whole process (3 silos + client): what survives full, blocking, compacting
/// collections. Twice, because finalizers run after the first and may free more.
/// </summary>
internal static class HeapMeter
{
    public static long LiveBytes()
    {
        for (int i = 0; i < 2; i++)
        {
            GCSettings.LargeObjectHeapCompactionMode = GCLargeObjectHeapCompactionMode.CompactOnce;
            GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
            GC.WaitForPendingFinalizers();
        }
        return GC.GetTotalMemory(forceFullCollection: false);
    }

    /// <summary>
    /// Live bytes once the heap stops shrinking (two weighings a second apart within 1 MB, or the bound passed). A
    /// cluster disposed just before still releases threads, timers and buffers for a while; weighing the next
    /// baseline too early would charge that release to the next fleet (as fewer bytes per grain).
    /// </summary>
    public static async Task<long> SettledLiveBytesAsync(TimeSpan bound)
    {
        var deadline = DateTime.UtcNow + bound;
        long previous = LiveBytes();
        while (DateTime.UtcNow < deadline)
        {
            await Task.Delay(1000);
            long now = LiveBytes();
            if (Math.Abs(previous - now) < 1 << 20) return now;
            previous = now;
        }
        return previous;
    }
}

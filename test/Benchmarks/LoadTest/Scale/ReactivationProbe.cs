using System.Diagnostics;

namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// Writes one replicated grain until its log holds the wanted number of entries (calls; batching puts several in
/// one slot), then, several times, deactivates it, waits until its group has left every silo's memory (the cluster
/// evicts idle groups after <see cref="EvictAfter"/>), and times the first call, which rebuilds the group from the
/// WAL (index lookup, snapshot, log above it) on each silo it reaches, activates the grain and replays before answering.
/// </summary>
internal static class ReactivationProbe
{
    /// <summary>Closed-loop writers: enough to keep the grain's 32-slot window full, so the log grows at its fastest.</summary>
    private const int Writers = 64;

    /// <summary>The reactivation clusters' idle period before a group leaves memory (short, so each repetition waits little).</summary>
    public static readonly TimeSpan EvictAfter = TimeSpan.FromSeconds(2);

    /// <summary>Replicas of the grain's group (one per silo) that must have left memory before a reactivation is timed.</summary>
    private const int Replicas = 3;

    public static async Task<ReactivationResult> MeasureAsync(LocalCluster cluster, string label, int snapshotEvery, int entries, int repetitions,
        TimeSpan bound, Action<string> status)
    {
        var client = cluster.Client;
        var grain = client.GetGrain<IReplayProbeGrain>($"replay-{snapshotEvery}");
        string typeName = IdleMemoryProbe.TypeNameOf(typeof(ReplayProbeGrain).FullName!);

        status($"{label}: writing a {entries:N0}-entry log");
        var (position, took) = await WriteLogAsync(grain, entries, bound, status, label);
        string? problem = position.Value < entries ? $"the log reached only {position.Value:N0} entries within {bound.TotalSeconds:0} s" : null;

        var firstCalls = new List<double>();
        for (int r = 0; r < repetitions && problem is null; r++)
        {
            status($"{label}: reactivation {r + 1}/{repetitions}");
            long evictedBefore = ReplicaGroups.Evicted(cluster) ?? 0;
            var (_, left) = await Deactivation.CollectAsync(client, typeName, TimeSpan.FromSeconds(30));
            if (left > 0)
            {
                problem = $"the grain did not deactivate within 30 s (repetition {r + 1})";
                break;
            }
            if (!await EvictedAsync(cluster, evictedBefore + Replicas, EvictAfter + TimeSpan.FromSeconds(30)))
            {
                problem = $"the grain's group was not evicted from every silo within {(EvictAfter + TimeSpan.FromSeconds(30)).TotalSeconds:0} s (repetition {r + 1})";
                break;
            }
            var sw = Stopwatch.StartNew();
            var after = await grain.Read();
            firstCalls.Add(sw.Elapsed.TotalMilliseconds);
            if (after.Value != position.Value) problem = $"after reactivation {r + 1} the counter reads {after.Value:N0}, expected {position.Value:N0}";
        }
        return new ReactivationResult(label, snapshotEvery, position.Value, position.Slot, took, DataDirectory.Bytes(cluster.DataRoot), firstCalls, problem);
    }

    /// <summary>Waits (bounded) until the silos' engines have evicted at least <paramref name="target"/> groups in all.</summary>
    private static async Task<bool> EvictedAsync(LocalCluster cluster, long target, TimeSpan bound)
    {
        var sw = Stopwatch.StartNew();
        while (sw.Elapsed < bound)
        {
            if (ReplicaGroups.Evicted(cluster) is not { } evicted) return false;
            if (evicted >= target) return true;
            await Task.Delay(100);
        }
        return false;
    }

    private static async Task<(LogPosition Position, TimeSpan Took)> WriteLogAsync(IReplayProbeGrain grain, int entries, TimeSpan bound,
        Action<string> status, string label)
    {
        using var stop = new CancellationTokenSource();
        async Task Writer()
        {
            while (!stop.IsCancellationRequested)
            {
                try { await grain.Increment(); } catch (Exception) { /* retried by the next iteration; the counter is the truth */ }
            }
        }
        var sw = Stopwatch.StartNew();
        var writers = Enumerable.Range(0, Writers).Select(_ => Task.Run(Writer)).ToArray();
        var position = await grain.Read();
        var reported = TimeSpan.Zero;
        while (position.Value < entries && sw.Elapsed < bound)
        {
            await Task.Delay(200);
            position = await grain.Read();
            if (sw.Elapsed - reported < TimeSpan.FromSeconds(5)) continue;
            reported = sw.Elapsed;
            status($"{label}: log at {position.Value:N0}/{entries:N0} entries");
        }
        var took = sw.Elapsed;
        stop.Cancel();
        await Task.WhenAll(writers).WaitAsync(TimeSpan.FromSeconds(30));
        return (await grain.Read(), took);
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;
using Orleans.Runtime;

namespace OpenReplica.LoadTest;

internal sealed record FailoverResult(
    string Grain,
    string KilledSilo,
    string? NewHost,
    int Callers,
    double? DetectedMs,
    double? DetectedAfterPreviousPollMs,
    double? FirstAckAfterKillMs,
    double? RecoveredMs,
    double LongestAckGapMs,
    double SlowestAckMs,
    double ThroughputBefore,
    double ThroughputAfter,
    long Acked,
    long Failed,
    long FinalValue,
    long ValueBefore,
    string? Note)
{
    /// <summary>Which cluster the failover ran on (a fresh one, or one the cells used).</summary>
    public string Cluster { get; init; } = "a fresh cluster";
}

/// <summary>
/// Failover under load: callers write to one replicated (Persisted) grain; the process of the silo hosting its
/// activation is killed (kill -9). Detection = kill until IManagementGrain.GetHosts(onlyActive) no longer lists the silo;
/// recovery = kill until the first successful write that was issued after the kill.
/// </summary>
internal static class Failover
{
    private const int ProbesInFlight = 400;
    private static readonly TimeSpan ProbeInterval = TimeSpan.FromMilliseconds(25);

    public static async Task<FailoverResult> RunAsync(ProcessCluster cluster, int callers, TimeSpan before, TimeSpan after, TimeSpan bound, Action<string> status)
    {
        var client = cluster.Client;
        ICounterGrain? grain = null;
        string host = "";
        int victim = -1;
        for (int i = 0; i < 100 && victim < 0; i++)
        {
            var g = client.GetGrain<ICounterGrain>($"failover-{i}", GrainClasses.Replicated);
            host = await g.Host();
            int index = cluster.IndexOf(host);
            // Not silo 0: it holds the development membership table (killing it would stop membership itself).
            if (index > 0)
            {
                grain = g;
                victim = index;
            }
        }
        if (grain is null) throw new InvalidOperationException("every failover grain landed on the primary silo");
        for (int i = 0; i < 10; i++) await grain.Increment();
        long valueBefore = await grain.Get();

        var freq = (double)Stopwatch.Frequency;
        var acks = new ConcurrentQueue<(long Start, long End)>();
        long failed = 0;
        using var stop = new CancellationTokenSource();
        async Task<bool> Write()
        {
            long t0 = Stopwatch.GetTimestamp();
            try
            {
                await grain.Increment();
                acks.Enqueue((t0, Stopwatch.GetTimestamp()));
                return true;
            }
            catch (Exception)
            {
                Interlocked.Increment(ref failed);
                return false;
            }
        }
        async Task Caller()
        {
            while (!stop.IsCancellationRequested)
            {
                if (!await Write()) await Task.Delay(10);
            }
        }
        // Closed-loop callers wait while their calls are retried: the prober issues a fresh write every 25 ms regardless,
        // so "first write issued after the kill that succeeds" measures when the grain serves again, independently of
        // when the callers' own retries notice it.
        async Task Prober()
        {
            using var inFlight = new SemaphoreSlim(ProbesInFlight);
            var probes = new List<Task>();
            while (!stop.IsCancellationRequested)
            {
                if (await inFlight.WaitAsync(0))
                {
                    probes.Add(Task.Run(async () => { try { await Write(); } finally { inFlight.Release(); } }));
                }
                await Task.Delay(ProbeInterval);
            }
            await Task.WhenAll(probes);
        }
        var load = Enumerable.Range(0, callers).Select(_ => Task.Run(Caller)).Append(Task.Run(Prober)).ToArray();
        long loadStart = Stopwatch.GetTimestamp();
        status($"load on {grain.GetGrainId()} (host {host})");
        await Task.Delay(before);

        var killed = cluster.Addresses[victim];
        var management = client.GetGrain<IManagementGrain>(0);
        long tKill = Stopwatch.GetTimestamp();
        cluster.Kill(victim);
        status($"killed {killed} (kill -9)");

        // Poll membership as seen through the management grain (on a surviving silo once the victim is gone).
        long? tDetected = null;
        long? tPreviousPoll = null;
        var poll = Task.Run(async () =>
        {
            while (tDetected is null && !stop.IsCancellationRequested)
            {
                long t = Stopwatch.GetTimestamp();
                try
                {
                    var hosts = await management.GetHosts(onlyActive: true).WaitAsync(TimeSpan.FromSeconds(1));
                    if (!hosts.Keys.Any(a => a.ToString() == killed))
                    {
                        tPreviousPoll = t;
                        tDetected = Stopwatch.GetTimestamp();
                        return;
                    }
                }
                catch (Exception)
                {
                }
                await Task.Delay(10);
            }
        });

        var sw = Stopwatch.StartNew();
        long? tRecovered = null;
        while (sw.Elapsed < bound)
        {
            foreach (var a in acks)
            {
                if (a.Start >= tKill && (tRecovered is null || a.End < tRecovered)) tRecovered = a.End;
            }
            if (tRecovered is not null && tDetected is not null) break;
            await Task.Delay(20);
        }
        long tAfter = Stopwatch.GetTimestamp();
        long acksAtAfter = acks.Count;
        await Task.Delay(after);
        long acksEnd = acks.Count;
        double afterSeconds = (Stopwatch.GetTimestamp() - tAfter) / freq;
        stop.Cancel();
        await Task.WhenAll(load).WaitAsync(TimeSpan.FromSeconds(30)).ContinueWith(_ => { });
        await poll.WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { });

        string? newHost = null;
        long finalValue = -1;
        try
        {
            newHost = await grain.Host();
            finalValue = await grain.Get();
        }
        catch (Exception e)
        {
            status("after failover: " + e.GetType().Name);
        }

        double slowest = acks.IsEmpty ? 0 : acks.Max(a => a.End - a.Start) / freq * 1000;
        var ends = acks.Select(a => a.End).Order().ToArray();
        double longestGap = 0;
        for (int i = 1; i < ends.Length; i++) longestGap = Math.Max(longestGap, (ends[i] - ends[i - 1]) / freq * 1000);
        long acksBefore = acks.Count(a => a.End <= tKill);
        double Ms(long? t) => t is { } v ? (v - tKill) / freq * 1000 : double.NaN;
        long? firstAck = acks.Where(a => a.End > tKill).Select(a => (long?)a.End).Min();
        return new FailoverResult(
            grain.GetGrainId().ToString(),
            killed,
            newHost,
            callers,
            tDetected is null ? null : Ms(tDetected),
            tPreviousPoll is null ? null : Ms(tPreviousPoll),
            firstAck is null ? null : Ms(firstAck),
            tRecovered is null ? null : Ms(tRecovered),
            longestGap,
            slowest,
            acksBefore / ((tKill - loadStart) / freq),
            (acksEnd - acksAtAfter) / afterSeconds,
            acks.Count,
            Interlocked.Read(ref failed),
            finalValue,
            valueBefore,
            tRecovered is null ? $"no write issued after the kill succeeded within {bound.TotalSeconds:0} s" : null);
    }
}

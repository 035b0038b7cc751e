using System.Diagnostics;
using HdrHistogram;
using Orleans.Runtime;

namespace OpenReplica.LoadTest;

internal enum Scenario { Plain, Volatile, Persisted }

internal enum Workload { Write, Read }

internal sealed record CellSpec(Scenario Scenario, Workload Workload, int Callers, int Grains, int IdleGrains = 0)
{
    public string Name => $"{ScenarioName(Scenario)} {Workload.ToString().ToLowerInvariant()}s, {Callers} caller{(Callers == 1 ? "" : "s")}, {GrainsText}";

    public string GrainsText => (Grains == 1 ? "1 hot grain" : $"{Grains:N0} grains") + (IdleGrains > 0 ? $" + {IdleGrains:N0} idle" : "");

    public static string ScenarioName(Scenario s) => s switch
    {
        Scenario.Plain => "1. plain",
        Scenario.Volatile => "2. replicated Volatile",
        _ => "3. replicated Persisted",
    };
}

internal sealed record CellResult(
    CellSpec Spec,
    long Ops,
    double Seconds,
    long Errors,
    double P50Ms,
    double P99Ms,
    double P999Ms,
    double MaxMs,
    double CpuPercent,
    double MessagesPerOp,
    long Dropped,
    bool TimedOut)
{
    public double Throughput => Ops / Seconds;
}

/// <summary>Drives one cell: N callers in a closed loop for warm-up + duration, latency recorded in an HdrHistogram.</summary>
internal static class Runner
{
    private const long HighestMicros = 120_000_000; // 2 minutes

    public static ICounterGrain[] Grains(IClusterClient client, Scenario scenario, int count)
    {
        string cls = scenario == Scenario.Plain ? GrainClasses.Plain : GrainClasses.Replicated;
        return count == 1
            ? [client.GetGrain<ICounterGrain>("hot", cls)]
            : [.. Enumerable.Range(0, count).Select(i => client.GetGrain<ICounterGrain>($"g-{i}", cls))];
    }

    /// <summary>Activates every grain once (one write each, 64 at a time), bounded; returns how long it took.</summary>
    public static async Task<TimeSpan> ActivateAsync(ICounterGrain[] grains, TimeSpan bound)
    {
        var sw = Stopwatch.StartNew();
        int next = -1;
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < grains.Length && sw.Elapsed < bound)
            {
                try { await grains[i].Increment(); } catch { }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, Math.Min(64, grains.Length)).Select(_ => Task.Run(Worker))).WaitAsync(bound + TimeSpan.FromSeconds(30));
        return sw.Elapsed;
    }

    public static async Task<CellResult> RunAsync(CellSpec spec, ICounterGrain[] grains, TimeSpan warmup, TimeSpan duration,
        Func<(long Enqueued, long Dropped)> consensusMessages, Action<double> progress)
    {
        long freq = Stopwatch.Frequency;
        long start = Stopwatch.GetTimestamp();
        long measureStart = start + (long)(warmup.TotalSeconds * freq);
        long measureEnd = measureStart + (long)(duration.TotalSeconds * freq);
        var histograms = new LongHistogram[spec.Callers];
        var ops = new long[spec.Callers];
        var errors = new long[spec.Callers];
        var process = Process.GetCurrentProcess();
        TimeSpan cpuAtStart = default;
        (long Enqueued, long Dropped) messagesAtStart = default;
        var measuring = new TaskCompletionSource();

        async Task Caller(int index)
        {
            var h = histograms[index] = new LongHistogram(HighestMicros, 3);
            var rng = new Random(index * 7919 + 1);
            bool write = spec.Workload == Workload.Write;
            while (true)
            {
                long t0 = Stopwatch.GetTimestamp();
                if (t0 >= measureEnd) return;
                var grain = grains.Length == 1 ? grains[0] : grains[rng.Next(grains.Length)];
                bool ok;
                try
                {
                    if (write) await grain.Increment(); else await grain.Get();
                    ok = true;
                }
                catch (Exception)
                {
                    ok = false;
                }
                long t1 = Stopwatch.GetTimestamp();
                if (t0 < measureStart || t1 > measureEnd) continue;
                if (!ok)
                {
                    errors[index]++;
                    continue;
                }
                ops[index]++;
                h.RecordValue(Math.Min(HighestMicros, (t1 - t0) * 1_000_000 / freq));
            }
        }

        var callers = Enumerable.Range(0, spec.Callers).Select(i => Task.Run(() => Caller(i))).ToArray();
        var all = Task.WhenAll(callers);
        // Sample CPU and message counters at the start of the measured window.
        var sampler = Task.Run(async () =>
        {
            var wait = TimeSpan.FromTicks(Math.Max(0, (measureStart - Stopwatch.GetTimestamp()) * TimeSpan.TicksPerSecond / freq));
            await Task.Delay(wait);
            process.Refresh();
            cpuAtStart = process.TotalProcessorTime;
            messagesAtStart = consensusMessages();
        });
        var total = warmup + duration;
        var deadline = Stopwatch.StartNew();
        bool timedOut = false;
        while (!all.IsCompleted)
        {
            progress(Math.Min(1.0, deadline.Elapsed / total));
            if (deadline.Elapsed > total + TimeSpan.FromSeconds(20))
            {
                timedOut = true; // callers stuck in calls longer than the bound: report and move on
                break;
            }
            await Task.WhenAny(all, Task.Delay(200));
        }
        await sampler;
        // The window closes at measureEnd, whatever is still in flight.
        process.Refresh();
        var cpu = process.TotalProcessorTime - cpuAtStart;
        var messagesAtEnd = consensusMessages();
        long messages = messagesAtEnd.Enqueued - messagesAtStart.Enqueued;
        progress(1.0);

        var merged = new LongHistogram(HighestMicros, 3);
        foreach (var h in histograms) if (h is not null) merged.Add(h);
        long opsTotal = ops.Sum();
        double Ms(double percentile) => merged.TotalCount == 0 ? double.NaN : merged.GetValueAtPercentile(percentile) / 1000.0;
        return new CellResult(
            spec,
            opsTotal,
            duration.TotalSeconds,
            errors.Sum(),
            Ms(50),
            Ms(99),
            Ms(99.9),
            merged.TotalCount == 0 ? double.NaN : merged.GetMaxValue() / 1000.0,
            100.0 * cpu.TotalSeconds / (duration.TotalSeconds * Environment.ProcessorCount),
            opsTotal == 0 ? double.NaN : (double)messages / opsTotal,
            messagesAtEnd.Dropped - messagesAtStart.Dropped,
            timedOut);
    }

    /// <summary>Process CPU and consensus messages per second while nothing calls the cluster.</summary>
    public static async Task<(double CpuPercent, double MessagesPerSecond)> IdleAsync(TimeSpan span, Func<(long Enqueued, long Dropped)> consensusMessages)
    {
        var process = Process.GetCurrentProcess();
        process.Refresh();
        var cpu0 = process.TotalProcessorTime;
        long m0 = consensusMessages().Enqueued;
        var sw = Stopwatch.StartNew();
        await Task.Delay(span);
        process.Refresh();
        double seconds = sw.Elapsed.TotalSeconds;
        return (100.0 * (process.TotalProcessorTime - cpu0).TotalSeconds / (seconds * Environment.ProcessorCount), (consensusMessages().Enqueued - m0) / seconds);
    }
}

using System.Diagnostics;
using HdrHistogram;

namespace OpenReplica.LoadTest;

/// <summary>Drives one cell: N callers in a closed loop for warm-up + duration, latency recorded in an HdrHistogram.</summary>
internal static class Runner
{
    private const long HighestMicros = 120_000_000; // 2 minutes

    public const int ActivationConcurrency = 64;

    /// <summary>Consensus message counters of a system; none for systems without a replica transport.</summary>
    public static readonly Func<Task<ConsensusTraffic>> NoMessages = () => Task.FromResult(ConsensusTraffic.None);

    /// <summary>Activates every grain once (one write each, 64 at a time), bounded; returns how long it took.</summary>
    public static Task<TimeSpan> ActivateAsync(ICounterGrain[] grains, TimeSpan bound) => ActivateAsync(new GrainTarget(grains), bound);

    /// <summary>Calls every grain (key) once, <see cref="ActivationConcurrency"/> at a time, bounded; returns how long it took.</summary>
    public static async Task<TimeSpan> ActivateAsync(ILoadTarget target, TimeSpan bound, Workload call = Workload.Write)
    {
        var sw = Stopwatch.StartNew();
        int next = -1;
        async Task Worker()
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < target.Count && sw.Elapsed < bound)
            {
                try { await (call == Workload.Write ? target.WriteAsync(i) : target.ReadAsync(i)); } catch { }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, Math.Min(ActivationConcurrency, target.Count)).Select(_ => Task.Run(Worker))).WaitAsync(bound + TimeSpan.FromSeconds(30));
        return sw.Elapsed;
    }

    /// <summary>Unmeasured calls (writes and reads alternating) from <paramref name="callers"/> callers over all targets for a while.</summary>
    public static async Task WarmUpAsync(ILoadTarget[] targets, TimeSpan span, int callers)
    {
        var sw = Stopwatch.StartNew();
        async Task Caller(int index)
        {
            var rng = new Random(index);
            for (long n = 0; sw.Elapsed < span; n++)
            {
                var target = targets[rng.Next(targets.Length)];
                int key = rng.Next(target.Count);
                try { await (n % 2 == 0 ? target.WriteAsync(key) : target.ReadAsync(key)); } catch { }
            }
        }
        await Task.WhenAll(Enumerable.Range(0, callers).Select(i => Task.Run(() => Caller(i)))).WaitAsync(span + TimeSpan.FromSeconds(30));
    }

    public static async Task<CellResult> RunAsync(CellSpec spec, ILoadTarget target, TimeSpan warmup, TimeSpan duration,
        Func<Task<ConsensusTraffic>> consensusMessages, Action<double> progress)
    {
        long freq = Stopwatch.Frequency;
        long start = Stopwatch.GetTimestamp();
        long measureStart = start + (long)(warmup.TotalSeconds * freq);
        long measureEnd = measureStart + (long)(duration.TotalSeconds * freq);
        var histograms = new LongHistogram[spec.Callers];
        var ops = new long[spec.Callers];
        var errors = new long[spec.Callers];
        TimeSpan cpuAtStart = default;
        ConsensusTraffic messagesAtStart = default;

        async Task Caller(int index)
        {
            var h = histograms[index] = new LongHistogram(HighestMicros, 3);
            var rng = new Random(index * 7919 + 1);
            bool write = spec.Workload == Workload.Write;
            while (true)
            {
                long t0 = Stopwatch.GetTimestamp();
                if (t0 >= measureEnd) return;
                int key = target.Count == 1 ? 0 : rng.Next(target.Count);
                bool ok;
                try
                {
                    await (write ? target.WriteAsync(key) : target.ReadAsync(key));
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
            cpuAtStart = ProcessTreeCpu.Total();
            messagesAtStart = await consensusMessages();
        });
        var total = warmup + duration;
        var deadline = Stopwatch.StartNew();
        var endSample = Task.Run(async () =>
        {
            // The window closes at measureEnd, whatever is still in flight.
            await Task.Delay(total);
            return (Cpu: ProcessTreeCpu.Total(), Messages: await consensusMessages());
        });
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
        var end = await endSample;
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
            100.0 * (end.Cpu - cpuAtStart).TotalSeconds / (duration.TotalSeconds * Environment.ProcessorCount),
            opsTotal == 0 ? double.NaN : (double)(end.Messages.Messages - messagesAtStart.Messages) / opsTotal,
            opsTotal == 0 ? double.NaN : (double)(end.Messages.Batches - messagesAtStart.Batches) / opsTotal,
            end.Messages.Dropped - messagesAtStart.Dropped,
            timedOut);
    }

    /// <summary>CPU (this process and its children) and consensus messages per second while nothing calls the cluster.</summary>
    public static Task<(double CpuPercent, double MessagesPerSecond)> IdleAsync(TimeSpan span, Func<ConsensusTraffic> consensusMessages) =>
        IdleAsync(span, () => Task.FromResult(consensusMessages()));

    public static async Task<(double CpuPercent, double MessagesPerSecond)> IdleAsync(TimeSpan span, Func<Task<ConsensusTraffic>> consensusMessages)
    {
        var cpu0 = ProcessTreeCpu.Total();
        long m0 = (await consensusMessages()).Messages;
        var sw = Stopwatch.StartNew();
        await Task.Delay(span);
        double seconds = sw.Elapsed.TotalSeconds;
        var cpu = ProcessTreeCpu.Total() - cpu0;
        return (100.0 * cpu.TotalSeconds / (seconds * Environment.ProcessorCount), ((await consensusMessages()).Messages - m0) / seconds);
    }
}

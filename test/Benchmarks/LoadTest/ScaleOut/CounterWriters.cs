using System.Collections.Concurrent;
using System.Diagnostics;
using HdrHistogram;

namespace OpenReplica.LoadTest.ScaleOut;

/// <summary>What the writers saw while they ran.</summary>
/// <param name="SlowCalls">Calls (answered or failed) that took longer than 1 s.</param>
/// <param name="FirstErrors">The first few failures: when (since the writers started), which grain, what.</param>
/// <param name="Slowest">The slowest calls over 1 s (at most <see cref="CounterWriters.SlowestKept"/>), slowest first: when
/// it started (UTC, to find it in the silos' and the client's logs), which grain, how long, how it ended.</param>
internal sealed record WriterStats(long Calls, long Errors, double P50Ms, double P99Ms, double MaxMs, long SlowCalls, TimeSpan Ran,
    IReadOnlyList<string> FirstErrors, IReadOnlyList<string> Slowest)
{
    public double CallsPerSecond => Ran.TotalSeconds > 0 ? Calls / Ran.TotalSeconds : 0;
}

/// <summary>
/// Closed-loop callers that increment uniformly chosen grains of a <see cref="CounterLedger"/> until stopped, with the
/// client's defaults (no retry of their own: a failed call is an error and counts as possibly applied in the ledger).
/// Latency per call, client side, in an HdrHistogram per caller.
/// </summary>
internal sealed class CounterWriters
{
    private const long HighestMicros = 300_000_000; // 5 minutes: no call of a healthy client takes longer than its response timeout
    private const int ErrorsKept = 8;
    public const int SlowestKept = 12;

    private readonly CounterLedger _ledger;
    private readonly LongHistogram[] _histograms;
    private readonly long[] _calls;
    private readonly long[] _errors;
    private readonly long[] _slow;
    private readonly ConcurrentQueue<string> _firstErrors = new();
    private readonly ConcurrentBag<(TimeSpan Took, string Line)> _slowCalls = []; // every call over 1 s (few, even in a bad run)
    private readonly CancellationTokenSource _stop = new();
    private readonly Stopwatch _clock = Stopwatch.StartNew();
    private readonly Task[] _loops;

    private CounterWriters(CounterLedger ledger, int callers)
    {
        _ledger = ledger;
        _histograms = [.. Enumerable.Range(0, callers).Select(_ => new LongHistogram(HighestMicros, 3))];
        _calls = new long[callers];
        _errors = new long[callers];
        _slow = new long[callers];
        _loops = [.. Enumerable.Range(0, callers).Select(i => Task.Run(() => LoopAsync(i)))];
    }

    public static CounterWriters Start(CounterLedger ledger, int callers) => new(ledger, callers);

    /// <summary>Failed calls so far (for progress lines).</summary>
    public long Errors => _errors.Sum();

    private async Task LoopAsync(int caller)
    {
        var rng = new Random(caller * 7919 + 17);
        var histogram = _histograms[caller];
        while (!_stop.IsCancellationRequested)
        {
            int grain = rng.Next(_ledger.Count);
            long t0 = Stopwatch.GetTimestamp();
            var startedAt = DateTime.UtcNow;
            string outcome = "ok";
            try
            {
                await _ledger.Grain(grain).Increment();
                _ledger.Acknowledged(grain);
            }
            catch (Exception e)
            {
                _ledger.Failed(grain);
                _errors[caller]++;
                outcome = e.GetType().Name;
                if (_firstErrors.Count < ErrorsKept)
                {
                    string message = e.Message.ReplaceLineEndings(" ");
                    _firstErrors.Enqueue($"{_clock.Elapsed.TotalSeconds:0.0} s, {_ledger.Keys[grain]}: {e.GetType().Name}: {(message.Length > 240 ? message[..240] + "…" : message)}");
                }
            }
            var took = Stopwatch.GetElapsedTime(t0);
            long micros = Math.Clamp((long)took.TotalMicroseconds, 1, HighestMicros);
            histogram.RecordValue(micros);
            _calls[caller]++;
            if (took > TimeSpan.FromSeconds(1))
            {
                _slow[caller]++;
                _slowCalls.Add((took, $"{startedAt:HH:mm:ss.fff} UTC, {_ledger.Keys[grain]}: {took.TotalMilliseconds:0} ms, {outcome}"));
            }
        }
    }

    /// <summary>Stops starting calls, waits (bounded) for the calls in flight, and merges what every caller saw.</summary>
    public async Task<WriterStats> StopAsync(TimeSpan bound)
    {
        _stop.Cancel();
        var ran = _clock.Elapsed;
        await Task.WhenAny(Task.WhenAll(_loops), Task.Delay(bound));
        bool drained = _loops.All(l => l.IsCompleted);
        var merged = new LongHistogram(HighestMicros, 3);
        foreach (var h in _histograms) merged.Add(h);
        double Ms(double percentile) => merged.TotalCount == 0 ? double.NaN : merged.GetValueAtPercentile(percentile) / 1000.0;
        var errors = _firstErrors.ToList();
        if (!drained) errors.Add($"{_loops.Count(l => !l.IsCompleted)} callers still had a call in flight {bound.TotalSeconds:0} s after the stop");
        return new WriterStats(_calls.Sum(), _errors.Sum(), Ms(50), Ms(99), merged.TotalCount == 0 ? double.NaN : merged.GetMaxValue() / 1000.0,
            _slow.Sum(), ran, errors, [.. _slowCalls.OrderByDescending(c => c.Took).Take(SlowestKept).Select(c => c.Line)]);
    }
}

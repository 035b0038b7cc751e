using System.Collections.Concurrent;
using System.Diagnostics;

namespace OpenReplica.Chaos;

/// <summary>
/// Successful calls per grain (invocation and completion, in <see cref="Stopwatch"/> ticks of the run's clock), to
/// measure how long the grains a fault hit stayed unavailable: a grain's recovery is the time from the fault's start
/// to the completion of its first successful call invoked after the start.
/// </summary>
internal sealed class Availability
{
    private readonly ConcurrentQueue<(string Key, long Invoked, long Completed)> _ok = new();

    public void Ok(string grainKey, long invoked, long completed) => _ok.Enqueue((grainKey, invoked, completed));

    /// <summary>
    /// The longest recovery among the grains whose group ids <paramref name="groups"/> name (those the faulted silo
    /// led), or null when none of them was called after the fault.
    /// </summary>
    public TimeSpan? Recovery(IReadOnlyCollection<string> groups, TimeSpan faultStart)
    {
        long start = (long)(faultStart.TotalSeconds * Stopwatch.Frequency);
        TimeSpan? worst = null;
        foreach (var byKey in _ok.Where(o => o.Invoked >= start).GroupBy(o => o.Key))
        {
            if (!groups.Any(g => g.EndsWith("/" + byKey.Key, StringComparison.Ordinal))) continue;
            long first = byKey.Min(o => o.Completed);
            var recovery = TimeSpan.FromSeconds((first - start) / (double)Stopwatch.Frequency);
            if (worst is null || recovery > worst) worst = recovery;
        }
        return worst;
    }
}

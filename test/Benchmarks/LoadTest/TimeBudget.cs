using System.Diagnostics;

namespace OpenReplica.LoadTest;

/// <summary>
/// The run's wall-time budget: a cell starts only if it can finish with time left for what must still come (the
/// failover); cells that do not fit are skipped and counted, so a slow machine gives a shorter table, not a cut run.
/// </summary>
internal sealed class TimeBudget(TimeSpan limit, TimeSpan reserve)
{
    private TimeSpan _reserve = reserve;

    private readonly Stopwatch _clock = Stopwatch.StartNew();

    public TimeSpan Limit => limit;
    public TimeSpan Elapsed => _clock.Elapsed;
    public int Skipped { get; private set; }

    /// <summary>True if <paramref name="cost"/> fits and still leaves the reserve.</summary>
    public bool Fits(TimeSpan cost) => _clock.Elapsed + cost + _reserve <= limit;

    /// <summary>True if <paramref name="cost"/> fits at all: for what the reserve was kept for.</summary>
    public bool FitsWithReserve(TimeSpan cost) => _clock.Elapsed + cost <= limit;

    public void Skip(int cells) => Skipped += cells;

    /// <summary>What the reserve was kept for has run: later cells may use its time.</summary>
    public void ReleaseReserve() => _reserve = TimeSpan.Zero;
}

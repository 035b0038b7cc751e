namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The time a silo's activations stamp on the calls they propose (the entry's time, <c>Replicated.Now</c> when it
/// runs): the silo's wall clock, but never further ahead of the silo's latest stamp than the real time elapsed since it
/// (the monotonic clock). A wall clock stepped forward (an NTP step, an operator's correction) would otherwise move log
/// time forward by the step at once, and everything reckoned on log time with it: a lock held under a 10 s lease
/// expired at the first entry after a +330 s step and was granted to a second session while the first still held it
/// (the chaos tool, ClockJump × Lock, seed 1515). One clock per silo, first read as the silo starts, so an
/// activation that starts after the step is bounded too, not only one that was already stamping (a lock whose
/// activation was collected after the step went to a second session at its next call: StaleEntryTimeTests). A step back
/// is left as it is: log time that steps back is already handled where it matters (the coordination objects reckon on
/// the newest time seen). A silo whose clock is already wrong when it starts still stamps its wrong time
/// (docs/reliability.md).
/// </summary>
internal sealed class EntryClock(TimeProvider time)
{
    private readonly Lock _gate = new();
    private DateTimeOffset _high; // the latest time stamped so far, and when (monotonic) it was stamped
    private long _highTimestamp;
    private bool _stamped;

    public DateTimeOffset Now()
    {
        var wall = time.GetUtcNow();
        long timestamp = time.GetTimestamp();
        lock (_gate)
        {
            // Measured from the latest stamp, not the last one: after a step back is undone the wall clock is back on
            // that line and is followed again, rather than lagging by the step for the activation's life.
            // A thousandth of slack lets a wall clock that runs a little fast against the monotonic one (a few ppm is
            // common) keep its lead instead of dragging entry times behind it over a long-lived activation; a step
            // leaks through at 1 ms per second at most.
            if (_stamped && time.GetElapsedTime(_highTimestamp, timestamp) is var elapsed
                && _high + elapsed + elapsed / 1000 is var bound && wall > bound) wall = bound;
            if (!_stamped || wall >= _high)
            {
                _high = wall;
                _highTimestamp = timestamp;
                _stamped = true;
            }
            return wall;
        }
    }
}

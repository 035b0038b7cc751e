using System.Diagnostics;

namespace OpenReplica.Chaos;

/// <summary>
/// A monotonic clock that runs at a fixed rate against the machine's (1.06: 6 % fast), counted from when it is made:
/// the <c>ClockSkew</c> nemesis gives it to a silo's replication engine (<c>ReplicatedGrainsOptions.MonotonicClock</c>),
/// whose leases, lease guards, birth claims and idle periods then run fast or slow. Only timestamps are skewed; the wall
/// clock and timers stay the machine's, so Orleans itself (membership, timers) is untouched.
/// </summary>
internal sealed class RateClock(double rate) : TimeProvider
{
    private readonly long _origin = Stopwatch.GetTimestamp();

    public double Rate => rate;

    public override long TimestampFrequency => Stopwatch.Frequency;

    public override long GetTimestamp() => _origin + (long)((Stopwatch.GetTimestamp() - _origin) * rate);
}

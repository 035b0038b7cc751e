namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The silo's monotonic milliseconds for its own deadlines (rebalance steps, log reopening, birth rounds): it never
/// jumps with the wall clock. Leases, lease guards, birth claims and idle periods use the engine's clock instead
/// (<see cref="MonotonicEngineClock"/>), which tests can make run at another rate; the core itself never reads a clock.
/// </summary>
internal static class HostClock
{
    public static long Now => Environment.TickCount64;

    public static long ToTicks(TimeSpan duration) => (long)duration.TotalMilliseconds;
}

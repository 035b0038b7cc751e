namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The clock the silo gives the consensus core for leases: monotonic milliseconds (it never jumps with the wall
/// clock). The core itself never reads a clock.
/// </summary>
internal static class HostClock
{
    public static long Now => Environment.TickCount64;

    public static long ToTicks(TimeSpan duration) => (long)duration.TotalMilliseconds;
}

using System.Diagnostics;
using System.Globalization;

namespace OpenReplica.Chaos;

/// <summary>
/// Clock faults of silos:
/// <list type="bullet">
/// <item>a jump, with libfaketime (Debian's <c>libfaketime</c>, preloaded into the silo process): the silo's wall clock
/// (CLOCK_REALTIME) steps forward or back by minutes, then back to true time, as an NTP step does; its monotonic clock
/// (leases, timers) keeps running. Each silo reads its offset from its own file (re-read every second), so the tool
/// moves one silo's clock while the others keep true time. Unavailable without the library: the nemesis is then
/// skipped with a message;</item>
/// <item>a rate skew: the replication engine's monotonic clock (leases, lease guards, birth claims) runs at a fixed
/// rate for the silo's whole life, through the engine's clock seam (<c>--clock-rate</c>, <see cref="RateClock"/>).
/// Not with libfaketime: its rate mode mistimes .NET's own waits and Orleans' membership (a skewed silo stopped
/// writing its membership row), which measured the library's C shim rather than the leases.</item>
/// </list>
/// </summary>
internal sealed class Clocks(string directory)
{
    private static readonly string[] Candidates =
    [
        "/usr/lib/x86_64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/aarch64-linux-gnu/faketime/libfaketimeMT.so.1",
        "/usr/lib/faketime/libfaketimeMT.so.1",
    ];

    public static string? Library => Candidates.FirstOrDefault(File.Exists);

    public static bool Available => Library is not null;

    /// <summary>Rate of each silo's engine clock for a skew run (silo index → rate); others run true.</summary>
    public Dictionary<int, double> Rates { get; } = [];

    /// <summary>
    /// The silo whose engine clock runs slowest in a skew run, if slower than true time: the one to isolate while it
    /// leads, since a slow leader's lease outlasts its followers' promises once the skew is past the lease's bound.
    /// </summary>
    public int? Slowest => Rates.Count > 0 && Rates.MinBy(r => r.Value) is { Value: < 1 } slowest ? slowest.Key : null;

    private string OffsetFile(int silo) => Path.Combine(directory, $"silo-{silo}.faketime");

    /// <summary>
    /// Prepares silo <paramref name="silo"/>'s process (at every start and restart): a skew run passes its rate to the
    /// silo; a jump run preloads libfaketime.
    /// </summary>
    public void Prepare(int silo, ProcessStartInfo psi)
    {
        if (Rates.Count > 0)
        {
            if (Rates.TryGetValue(silo, out double rate)) psi.ArgumentList.Add(string.Create(CultureInfo.InvariantCulture, $"--clock-rate={rate:0.####}"));
            return;
        }
        psi.Environment["LD_PRELOAD"] = Library ?? throw new InvalidOperationException("libfaketime is not installed (apt-get install libfaketime)");
        // .NET waits on condition variables bound to the monotonic clock; the library's glibc workaround for them mistimes
        // those waits (silos crawl), and the monotonic clock is not faked for jumps anyway.
        psi.Environment["FAKETIME_FORCE_MONOTONIC_FIX"] = "0";
        // Only the wall clock is faked: with the monotonic clock faked too, .NET's timed waits (condition variables
        // bound to the monotonic clock) are mistimed by the library and the silo stops making progress, which would
        // measure libfaketime, not us.
        psi.Environment["FAKETIME_DONT_FAKE_MONOTONIC"] = "1";
        // Jumps: only the wall clock moves, read from the silo's own file (cached for a second).
        File.WriteAllText(OffsetFile(silo), "+0\n");
        psi.Environment["FAKETIME_TIMESTAMP_FILE"] = OffsetFile(silo);
        psi.Environment["FAKETIME_CACHE_DURATION"] = "1";
    }

    /// <summary>Steps silo <paramref name="silo"/>'s wall clock by <paramref name="offset"/> from true time (zero: back to true time).</summary>
    public void Jump(int silo, TimeSpan offset) =>
        File.WriteAllText(OffsetFile(silo), string.Create(CultureInfo.InvariantCulture, $"{(offset >= TimeSpan.Zero ? "+" : "-")}{Math.Abs(offset.TotalSeconds):0}\n"));
}

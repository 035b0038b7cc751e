namespace OpenReplica.Chaos;

/// <summary>The faults the tool injects (in the order of the table).</summary>
public enum NemesisKind
{
    None,
    /// <summary>kill -9 of the leader's silo, restarted with its data directory.</summary>
    KillLeader,
    /// <summary>kill -9 of every silo, restarted.</summary>
    KillAll,
    /// <summary>SIGSTOP of the leader's silo for 10–14 s (past detection + lease), then SIGCONT.</summary>
    PauseLeader,
    /// <summary>SIGSTOP of the leader's silo for 2.5–3.5 s (around the membership probe limit), then SIGCONT.</summary>
    ShortPauseLeader,
    /// <summary>The leader's silo cut from every other silo, its gateway still reachable by clients.</summary>
    IsolateLeader,
    /// <summary>The leader's silo cut from one follower only (the third silo still reaches both).</summary>
    Bridge,
    /// <summary>The leader silo's wall clock steps 1–10 minutes forward or back, then returns.</summary>
    ClockJump,
    /// <summary>
    /// The silos' engine clocks (leases) run at different rates for the whole run (1×, 1.06×, 0.94× by default) while
    /// a leader is isolated now and then: the slow-clocked silo whenever it leads any of the workloads' grains.
    /// </summary>
    ClockSkew,
    /// <summary>The leader silo's data volume filled to the last byte, then freed.</summary>
    DiskFull,
    /// <summary>Every WAL fsync of the leader's silo fails (EIO) for a while.</summary>
    FsyncFail,
    /// <summary>
    /// The leader silo's gateway drops every packet to and from the clients for 12–20 s (past the silo's
    /// GatewaySendTimeout): the clients' connections to it stay open and carry nothing; the silos still reach each other.
    /// </summary>
    SilenceGateway,
}

/// <summary>One fault of a schedule: what, when (from the workload's start), for how long, and a clock offset for jumps.</summary>
internal sealed record Fault(NemesisKind Kind, TimeSpan At, TimeSpan Length, TimeSpan Offset = default);

/// <summary>A seeded schedule: the same seed and duration give the same faults (targets are chosen when applied).</summary>
internal static class Schedule
{
    /// <summary>
    /// The default skew of a <see cref="NemesisKind.ClockSkew"/> run: silo 1's engine clock 6 % fast, silo 2's 6 % slow.
    /// A lease is safe while no replica's clock runs more than 8/7 as fast as its leader's (the lease ends a safety
    /// margin of an eighth before the followers' promises do), i.e. for skews below 1/15; 1.06 / 0.94 = 1.128.
    /// </summary>
    public const double DefaultClockSkew = 0.06;

    /// <summary>Rates of the silos' engine clocks in a <see cref="NemesisKind.ClockSkew"/> run (silo index → rate): 1 + skew, 1 − skew.</summary>
    public static IReadOnlyDictionary<int, double> SkewRates(double skew) => new Dictionary<int, double> { [1] = 1 + skew, [2] = 1 - skew };

    public static IReadOnlyList<Fault> Create(NemesisKind kind, int seed, TimeSpan duration)
    {
        var faults = new List<Fault>();
        if (kind == NemesisKind.None) return faults;
        var random = new Random(HashCode.Combine(seed, (int)kind));
        var at = TimeSpan.FromSeconds(3 + random.NextDouble() * 2);
        // Leave the last seconds of the run fault-free so the final reads see a healed cluster.
        while (at < duration - TimeSpan.FromSeconds(6))
        {
            var length = kind switch
            {
                NemesisKind.PauseLeader => TimeSpan.FromSeconds(10 + random.NextDouble() * 4),
                NemesisKind.ShortPauseLeader => TimeSpan.FromSeconds(2.5 + random.NextDouble()),
                NemesisKind.KillLeader or NemesisKind.KillAll => TimeSpan.FromSeconds(1 + random.NextDouble() * 2),
                NemesisKind.SilenceGateway => TimeSpan.FromSeconds(12 + random.NextDouble() * 8),
                _ => TimeSpan.FromSeconds(4 + random.NextDouble() * 6),
            };
            var offset = kind == NemesisKind.ClockJump
                ? TimeSpan.FromMinutes((1 + random.NextDouble() * 9) * (random.Next(2) == 0 ? -1 : 1))
                : TimeSpan.Zero;
            faults.Add(new Fault(kind, at, length, offset));
            at += length + TimeSpan.FromSeconds(4 + random.NextDouble() * 4);
        }
        return faults;
    }
}

namespace OpenReplica.LoadTest.ScaleOut;

/// <summary>What one <c>scaleout</c> run measures and where it writes.</summary>
/// <param name="Grains">Grains of the spread and join phases (the 10,000).</param>
/// <param name="RollingGrains">Grains of each rolling replacement.</param>
/// <param name="Callers">Closed-loop writers during the join and the rolling replacements.</param>
/// <param name="Phases">Which phases run: <c>spread</c> (spread and join), <c>volatile</c>, <c>persisted</c>.</param>
internal sealed record ScaleOutSettings(
    bool Quick,
    int Grains,
    int RollingGrains,
    int Callers,
    IReadOnlySet<string> Phases,
    string? DocPath,
    bool KeepTemp,
    string Command,
    double? RebalanceMinutes = null)
{
    public const int Silos = 6;
    public const int Replicas = 3;

    public static readonly IReadOnlySet<string> AllPhases = new HashSet<string> { "spread", "volatile", "persisted" };

    /// <summary>Hard bound on the whole run: the tool reports what finished and exits, even if a phase hangs.</summary>
    public TimeSpan Bound => Quick ? TimeSpan.FromMinutes(20) : TimeSpan.FromMinutes(60);

    /// <summary>Bound on the roster taking in a new silo or dropping a stopped one (settling period 10 s, one meta-group change at a time).</summary>
    public TimeSpan RosterBound => TimeSpan.FromSeconds(90);

    /// <summary>Bound on a rebalance finishing after a roster change.</summary>
    public TimeSpan RebalanceBound => RebalanceMinutes is { } minutes ? TimeSpan.FromMinutes(minutes) : Quick ? TimeSpan.FromSeconds(120) : TimeSpan.FromSeconds(600);

    /// <summary>Bound on a silo's graceful stop (decommission's default 20 s, the host's shutdown timeout 30 s).</summary>
    public TimeSpan StopBound => TimeSpan.FromSeconds(60);

    /// <summary>Bound on writing (or reading) every grain once.</summary>
    public TimeSpan SweepBound => Quick ? TimeSpan.FromSeconds(90) : TimeSpan.FromSeconds(300);
}

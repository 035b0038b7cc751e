namespace OpenReplica.LoadTest.Scale;

/// <summary>What one <c>scale</c> run measures and where it writes.</summary>
internal sealed record ScaleSettings(
    bool Quick,
    int Grains,
    int LogEntries,
    int Repetitions,
    int VolatileGrains,
    string? DocPath,
    bool KeepTemp,
    string Command,
    IReadOnlySet<string>? Only = null)
{
    /// <summary>The parts a run may be limited to with <c>--only</c>.</summary>
    public static readonly string[] Parts = ["idle", "reactivation", "replay"];

    /// <summary>Whether the run measures <paramref name="part"/> (every part unless <c>--only</c> names some).</summary>
    public bool Runs(string part) => Only is null || Only.Contains(part);

    /// <summary>
    /// Hard bound on the whole run: the tool stops itself even if a phase hangs. About 1 and 5 minutes on a quiet
    /// machine; the bounds leave room for the shared 2 cores being busy with other work.
    /// </summary>
    public TimeSpan Bound => Quick ? TimeSpan.FromMinutes(3) : TimeSpan.FromMinutes(10);

    /// <summary>Bound on creating (or deactivating) one fleet of grains; a fleet cut short is measured over the grains it activated.</summary>
    public TimeSpan PhaseBound => Quick ? TimeSpan.FromSeconds(30) : TimeSpan.FromSeconds(150);

    /// <summary>Bound on writing one grain's long log.</summary>
    public TimeSpan LogBound => Quick ? TimeSpan.FromSeconds(20) : TimeSpan.FromSeconds(60);
}

namespace OpenReplica.Chaos;

/// <summary>Which cells a run covers.</summary>
public enum ChaosProfile
{
    /// <summary>The CI run: a short leader pause and an isolated leader, with pause-detecting membership (about 90 s).</summary>
    Short,

    /// <summary>Every nemesis with pause-detecting membership, and the pauses and kills again with Orleans' defaults.</summary>
    Long,
}

internal static class Profiles
{
    private static readonly NemesisKind[] DefaultsToo = [NemesisKind.PauseLeader, NemesisKind.ShortPauseLeader, NemesisKind.IsolateLeader];

    public static IReadOnlyList<(NemesisKind Nemesis, MembershipSettings Membership)> Cells(ChaosProfile profile, NemesisKind[]? nemeses, MembershipSettings[]? memberships)
    {
        NemesisKind[] kinds = nemeses is { Length: > 0 } ? nemeses
            : profile == ChaosProfile.Short ? [NemesisKind.ShortPauseLeader, NemesisKind.IsolateLeader]
            : Enum.GetValues<NemesisKind>();
        if (memberships is { Length: > 0 }) return [.. kinds.SelectMany(k => memberships.Select(m => (k, m)))];
        var cells = kinds.Select(k => (k, MembershipSettings.DetectPauses)).ToList();
        if (profile == ChaosProfile.Long) cells.AddRange(kinds.Where(DefaultsToo.Contains).Select(k => (k, MembershipSettings.Defaults)));
        return cells;
    }
}

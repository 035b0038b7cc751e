namespace OpenReplica.Orleans.Diagnostics;

/// <summary>
/// What one group replica reports to <see cref="ReplicationInstruments"/>, tagged with the kind of group (a grain's
/// group or the roster's meta group), so a dashboard can tell grain leadership churn from meta-group elections.
/// Called on the group's engine worker only.
/// </summary>
internal sealed class GroupMetrics(ReplicationInstruments instruments, bool rosterGroup)
{
    public const string Grain = "grain";
    public const string Roster = "roster";

    private readonly string _kind = rosterGroup ? Roster : Grain;

    public void ProposalBatch(int proposals) => instruments.ProposalBatch(proposals);

    public void Campaign() => instruments.Campaign(_kind);

    public void LeaderChanged(bool gained) => instruments.LeaderChanged(gained, _kind);
}

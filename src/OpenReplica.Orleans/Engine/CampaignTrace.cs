using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Diagnostics of one campaign of a replica (Debug log when it ends): how long from its new ballot to leading or
/// giving up, and what it sent meanwhile. A grain's next activation serves only once its campaign won, so a slow
/// campaign is a slow call; this tells a lost prepare (many rounds) from a snapshot it had to fetch first (catch-up
/// asks) or a campaign that ended without the lead (a higher ballot was promised, or the replica resigned: its
/// activation stopped). Allocated only while a campaign runs: an idle group holds none.
/// </summary>
internal sealed class CampaignTrace(Ballot ballot, long startedAt)
{
    private int _prepares, _catchUps;

    /// <summary>Counts what the step sent; the campaign's summary once it ended (led, or stepped down), else null.</summary>
    public string? Observe(Ready ready, long self, ReplicaRole role, long now)
    {
        foreach (var m in ready.Messages)
        {
            if (m is Prepare && m.To != self) _prepares++;
            else if (m is CatchUpRequest) _catchUps++;
        }
        if (role == ReplicaRole.Candidate) return null;
        string outcome = role == ReplicaRole.Leader ? "leads" : "stopped campaigning without the lead (a higher ballot was promised, or it resigned)";
        return $"{outcome} at ballot {ballot} {now - startedAt} ms after its campaign began; {_prepares} prepares and {_catchUps} catch-up asks sent";
    }
}

using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// What a silo keeps of a replica it dropped (<see cref="ForgottenGroups"/>): the slot from which the newest
/// configuration it (or the peer that said the group left) knew is in force, so the group is learned again only from
/// a newer view; and what the replica promised and held (<see cref="FormerReplica"/>), so the replica a later add-back
/// starts keeps clear of its votes.
/// </summary>
internal readonly record struct ForgottenNote(long LatestFromSlot, FormerReplica Former)
{
    /// <summary>Both notes together: every part raised, none given back (a later note that knew less lowers nothing).</summary>
    public ForgottenNote Max(ForgottenNote other) => new(Math.Max(LatestFromSlot, other.LatestFromSlot), Former.Max(other.Former));
}

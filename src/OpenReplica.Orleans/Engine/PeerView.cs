namespace OpenReplica.Orleans.Replication;

/// <summary>
/// What a peer's answer about a group (its <see cref="GroupStatus"/>) tells a member that no longer hears from the
/// group. The rebalancer forgets its replica on this word, so it must not be fooled by a peer that only lags.
/// </summary>
internal static class PeerView
{
    /// <summary>
    /// Whether <paramref name="peer"/>'s view shows that the group left replica <paramref name="me"/>, whose own view
    /// is <paramref name="mine"/>: the peer knows a configuration without it in force, and the peer has committed past
    /// the slot from which <paramref name="mine"/>'s newest configuration is in force.
    /// </summary>
    /// <remarks>
    /// The second condition because a peer that lags reports a configuration the group has since left: a replica
    /// created for a member added back starts from its sender's newest configuration, then replays the group's log
    /// (or installs the leader's snapshot and replays after it), and every configuration it applies on the way is
    /// older than the one it started from (docs/placement.md, "Session 8", point 3). A removal of <paramref name="me"/>
    /// is chosen after the slot its newest configuration was chosen at, so a peer that knows of it has committed that
    /// far; a peer that has not may not have learned the configuration that added <paramref name="me"/> yet.
    /// </remarks>
    public static bool SaysGroupLeft(GroupStatus peer, GroupStatus mine, long me) =>
        !peer.Latest.Contains(me) && !peer.InForce.Contains(me) && peer.CommitIndex >= mine.LatestFromSlot - 1;
}

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

    /// <summary>
    /// Whether replica <paramref name="me"/>'s own view <paramref name="mine"/> shows that the group left it, without
    /// asking a peer: only a leader's. A leader has every chosen entry (its phase 1 gathered them), so its newest
    /// configuration is the group's; a follower's may be one it is replaying.
    /// </summary>
    /// <remarks>
    /// A replica created on first contact starts from its sender's newest configuration, which names it, then replays
    /// the log, and each configuration it applies on the way is older: a new member catching up shows a configuration
    /// from before it was added (session 10, traced in a rolling replacement). Its silo's rebalancer forgot the replica
    /// on that view while the move that added it waited for its catch-up; the forgotten-groups rule then refused every
    /// later message for the group, the move never finished, and once the leaving member stopped the group had two of
    /// four members and no majority, for good. A follower asks its peers instead (<see cref="SaysGroupLeft"/>).
    /// </remarks>
    public static bool OwnViewSaysGroupLeft(GroupStatus mine, long me) =>
        mine.Leader && !mine.Latest.Contains(me) && !mine.InForce.Contains(me);
}

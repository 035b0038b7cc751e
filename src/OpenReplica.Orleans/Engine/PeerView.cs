using OpenReplica.Consensus;

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
    /// Whether a replica's core, when it is about to be dropped, still shows what the decision to drop it was made from
    /// (<paramref name="decidedOn"/>, its status seconds earlier): it learned no configuration newer than that one. A
    /// member re-added meanwhile has learned the configuration that adds it back. Its newest configuration may still name
    /// it: a member removed while its accepts went to the others only (a leader sends accepts to a majority) never
    /// hears of its removal, and its peers' word is what the decision rests on then (session 24: such a replica was
    /// refused its drop on every pass, and its silo's rebalancer never settled).
    /// Nor may it have voted since the decision at a slot from <paramref name="removedFrom"/> on (the first slot of the
    /// configuration that removed it, per the view the decision rests on; <see cref="PaxosReplica.HoldsVoteFrom"/>): a
    /// member added back answers the leader's accepts before it has caught up to the configuration that added it, and
    /// until then it learns no configuration. Dropped then, its votes would be gone: the replica the add-back starts
    /// next keeps clear of them (<see cref="FormerReplica"/>), so every candidate behind on those slots needs the
    /// other members, and a group of four that had lost one more member for good never elected a leader again (engine
    /// seeds 106 and 153 with late drops, session 35). Votes it held at the decision are older than the add-back (a
    /// deposed leader's accepts, say) and do not count: a drop refused for them would be refused on every pass.
    /// </summary>
    public static bool StillLeft(PaxosReplica core, GroupStatus decidedOn, long removedFrom) =>
        core.Configs.LatestFromSlot <= decidedOn.LatestFromSlot && core.Configs.Latest.Equals(new ClusterConfig(decidedOn.Latest))
        && !core.HoldsVoteFrom(Math.Max(removedFrom, decidedOn.HighestSlotHeld + 1));

    /// <summary>The first slot of the configuration that removed replica <paramref name="me"/>, per <paramref name="witness"/> (<see cref="RemovalOf"/>); no slot when none did.</summary>
    public static long RemovedFrom(GroupStatus witness, long me) => RemovalOf(witness, me)?.FromSlot ?? long.MaxValue;

    /// <summary>The same, from a configuration history itself (a leader's, as a witness's status would carry it).</summary>
    public static long RemovedFrom(ConfigEpoch[] epochs, long me) => SinceRemovalOf(epochs, me).FirstOrDefault()?.FromSlot ?? long.MaxValue;

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

    /// <summary>
    /// The configuration that removed replica <paramref name="me"/>, per the history <paramref name="witness"/>
    /// reports: the first epoch after the last one that names <paramref name="me"/>, with the slot it is in force from.
    /// When no epoch names it (the history was trimmed at a snapshot taken after the removal, or an older peer sent its
    /// newest configuration alone), the first epoch known, which is the removal's or a later one; null when the newest
    /// configuration names <paramref name="me"/>.
    /// </summary>
    public static ConfigEpoch? RemovalOf(GroupStatus witness, long me) => SinceRemovalOf(witness, me).FirstOrDefault();

    /// <summary>
    /// The configuration that removed replica <paramref name="me"/> (<see cref="RemovalOf"/>) and every later one
    /// <paramref name="witness"/> knows, oldest first; empty when its newest configuration names <paramref name="me"/>.
    /// </summary>
    public static IReadOnlyList<ConfigEpoch> SinceRemovalOf(GroupStatus witness, long me) =>
        SinceRemovalOf(witness.Epochs is { Length: > 0 } known ? known : [new ConfigEpoch(witness.LatestFromSlot, witness.Latest)], me);

    private static ConfigEpoch[] SinceRemovalOf(ConfigEpoch[] epochs, long me)
    {
        int lastNamingMe = Array.FindLastIndex(epochs, e => e.Members.Contains(me));
        return epochs[(lastNamingMe + 1)..];
    }

    /// <summary>
    /// Whether the group can go on without replica <paramref name="me"/>, whose removal <paramref name="witness"/>
    /// knows in force: a majority of the configuration that removed it (<see cref="RemovalOf"/>, in force from slot
    /// <c>f</c>) report (<paramref name="members"/>, by replica id) a commit index of at least <c>f - 1</c> on disk
    /// (<see cref="GroupStatus.DurableCommitIndex"/>). Only then may <paramref name="me"/> drop its replica.
    /// </summary>
    /// <remarks>
    /// The slots before <c>f</c> are governed by the configuration with <paramref name="me"/> (a configuration chosen
    /// at slot <c>s</c> is in force from <c>s + Window</c>). A candidate whose commit index is below <c>f - 1</c> needs
    /// a quorum of that configuration to lead, unless a promiser tells it those slots are chosen (a promise carries
    /// the chosen entries above the candidate's commit index; its commit index then passes <c>f - 1</c> and only the
    /// new configuration's quorum counts). Any quorum of the new configuration includes a member of such a majority,
    /// so every later candidate hears it. Without the rule the member dropped as soon as one member (the leader) had
    /// the removal in force; when the leader's silo then stopped for good before the others held that commit index
    /// on disk (a follower's commit index reached its disk only with its next append; one rebuilt after eviction
    /// forgot the rest), no quorum of the window's configuration was left and the group never elected a leader again
    /// (session 10's engine seeds 333, 358 and 1252). On disk, not in memory: a member rebuilt from its log after an
    /// eviction or a crash knows only what its log holds.
    /// </remarks>
    /// <remarks>
    /// A later configuration's window on disk at a majority of its own members does as well (its window ends after the
    /// removal's): every candidate that can still lead needs a quorum of it, which includes one of that majority, so the
    /// removal's window is chosen for it too. Without this, a group that moved on again before the removed member asked
    /// (a silo joined, the group went from {A,B,C} to {A,D,E} one member at a time, and B and D dropped out on the way)
    /// kept that member's replica for ever: the members of the removing configuration that had left since answered that
    /// they held no replica (session 23, 274 and 421 groups held past their move after six silos formed).
    /// </remarks>
    public static bool RemovalIsDurable(GroupStatus witness, IReadOnlyDictionary<long, GroupStatus> members, long me) =>
        SinceRemovalOf(witness, me).Any(epoch => WindowOnDisk(epoch, members));

    /// <summary>Whether a majority of <paramref name="epoch"/>'s members hold, on disk, the commit of the slot before it is in force.</summary>
    private static bool WindowOnDisk(ConfigEpoch epoch, IReadOnlyDictionary<long, GroupStatus> members)
    {
        var holding = epoch.Members.Where(m => members.TryGetValue(m, out var status) && status.DurableCommitIndex >= epoch.FromSlot - 1);
        return MajorityQuorum.Instance.IsQuorum(new ClusterConfig(epoch.Members), holding.ToHashSet());
    }
}

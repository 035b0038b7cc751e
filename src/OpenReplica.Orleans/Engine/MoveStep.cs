using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>What a group's move does next.</summary>
internal enum MoveStepKind
{
    /// <summary>The newest configuration is the target and in force: the move is done.</summary>
    InPlace,

    /// <summary>A chosen configuration is not in force yet, and the next change may not start before it is.</summary>
    AwaitInForce,

    /// <summary>Propose <see cref="MoveStep.Next"/>, which adds <see cref="MoveStep.Member"/>.</summary>
    Add,

    /// <summary>
    /// Once every member in <see cref="MoveStep.Staying"/> holds the log up to the slot from which the newest
    /// configuration is in force, propose <see cref="MoveStep.Next"/>, which removes <see cref="MoveStep.Member"/>.
    /// </summary>
    Remove,
}

/// <summary>
/// The next step of a group's move from its newest configuration to a target, one member at a time: add a member the
/// target wants, let it catch up, remove one it does not want. Pure: the silo's <see cref="Rebalancer"/> and the engine
/// simulator's group mover both take their steps from here, so the simulator moves groups the way silos do.
/// </summary>
/// <param name="Kind">What to do.</param>
/// <param name="Next">The configuration to propose (<see cref="MoveStepKind.Add"/> and <see cref="MoveStepKind.Remove"/>).</param>
/// <param name="Member">The member added or removed.</param>
/// <param name="Staying">For a removal: the members of the newest configuration that the target keeps.</param>
internal sealed record MoveStep(MoveStepKind Kind, ClusterConfig? Next = null, long Member = 0, IReadOnlyList<long>? Staying = null)
{
    private static readonly MoveStep Done = new(MoveStepKind.InPlace);
    private static readonly MoveStep AwaitInForce = new(MoveStepKind.AwaitInForce);

    /// <summary>
    /// The step after <paramref name="latest"/> (the group's newest configuration, chosen) with
    /// <paramref name="inForce"/> (the one in force at the leader's next slot) towards <paramref name="target"/>;
    /// <paramref name="isGone"/> tells members that are gone for now (a dead or departed silo; null: none is).
    /// </summary>
    /// <remarks>
    /// A member that is gone and that the target drops is removed before anything is added (etcd's rule for replacing
    /// a failed member): adding first raises the majority the group needs (3 of 4 instead of 2 of 3) while one member
    /// cannot vote, so the new member becomes necessary before it has caught up, and one more departure stops the
    /// group for good. Removing first keeps the requirement it had (the members that are left) and adds after.
    /// Otherwise adds come first while the group has no more members than the target, so it never has fewer up-to-date
    /// copies than before. A removal may start while the add before it is chosen and not yet in force: the leader fills the
    /// window meanwhile, and the catch-up the removal waits for implies that the add is in force (the new member holds
    /// the log up to where it joined, which the leader committed). Any other change waits until the last one is in force.
    /// </remarks>
    public static MoveStep For(ClusterConfig latest, ClusterConfig inForce, ClusterConfig target, Func<long, bool>? isGone = null)
    {
        if (latest.Equals(target) && inForce.Equals(target)) return Done;
        if (isGone is not null && latest.Equals(inForce) && latest.Members.Count > 1
            && latest.Members.Where(m => !target.Contains(m) && isGone(m)).Select(m => (long?)m).FirstOrDefault() is { } gone)
        {
            return new MoveStep(MoveStepKind.Remove, latest.Without(gone), gone, [.. latest.Members.Where(target.Contains)]);
        }
        bool removalNext = !latest.Equals(target) && target.Members.All(latest.Contains);
        if (!latest.Equals(inForce) && !removalNext) return AwaitInForce;
        long? adding = target.Members.Where(m => !latest.Contains(m)).Select(m => (long?)m).FirstOrDefault();
        if (!removalNext && latest.Members.Count <= target.Members.Count && adding is { } added)
        {
            return new MoveStep(MoveStepKind.Add, latest.With(added), added);
        }
        long removed = latest.Members.First(m => !target.Contains(m));
        return new MoveStep(MoveStepKind.Remove, latest.Without(removed), removed, [.. latest.Members.Where(target.Contains)]);
    }
}

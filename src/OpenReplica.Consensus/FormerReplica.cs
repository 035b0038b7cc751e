namespace OpenReplica.Consensus;

/// <summary>
/// What a replica its host dropped leaves to the next replica under the same id: the highest ballot it promised and
/// the highest slot it held an entry of (accepted or learned; <see cref="HeldThrough"/>). A silo drops its replica when
/// the group has left it, decided from a peer's word seconds earlier; the group may have added the silo back meanwhile,
/// and the old replica may have promised and accepted in the configuration that added it back before it was dropped
/// (it learns neither that configuration nor any newer one from accepts alone). A successor that forgot those votes
/// would be an acceptor that changed its mind: a candidate that missed a slot the old replica helped choose could win
/// it with the successor's empty promise. The successor keeps the promise and votes only above
/// <see cref="HeldThrough"/> (docs/consensus.md, "A member added back: the vote floor").
/// </summary>
/// <param name="Promised">The dropped replica's promise: the successor refuses every lower ballot, as it did.</param>
/// <param name="HeldThrough">
/// The highest slot the dropped replica held an entry of, its snapshot's included, or the last slot below its own vote
/// floor if that is higher (it inherited that much from a replica dropped before it: a chain of add-backs passes the
/// highest mark on). A learned chosen entry cannot be told from a vote afterwards, so both count. The floor has a
/// price: the successor promises nothing to a candidate behind it, so those slots need a majority of the other
/// members; hosts therefore refuse to drop a replica that voted after they decided to drop it (the note guards what
/// that check cannot see).
/// </param>
public readonly record struct FormerReplica(Ballot Promised, long HeldThrough)
{
    /// <summary>No earlier replica under the id voted (or none is known): the successor starts as any new replica.</summary>
    public static readonly FormerReplica None = new(Ballot.Zero, 0);

    /// <summary>Whether there is anything to keep.</summary>
    public bool IsNone => this == None;

    /// <summary>What <paramref name="replica"/> leaves if it is dropped now (read in its host's step, after its last vote).</summary>
    public static FormerReplica Of(PaxosReplica replica)
    {
        ArgumentNullException.ThrowIfNull(replica);
        long held = Math.Max(replica.HighestSlotHeld, replica.SnapshotSlot);
        return new(replica.Promised, Math.Max(held, replica.VoteFloor - 1));
    }

    /// <summary>What a replica that persisted <paramref name="state"/> leaves (a host that can no longer ask the replica itself).</summary>
    public static FormerReplica Of(PersistentState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        long held = Math.Max(Math.Max(state.HardState.CommitIndex, state.Snapshot?.Slot ?? 0), state.HardState.VoteFloor - 1);
        foreach (var entry in state.Entries) held = Math.Max(held, entry.Slot);
        return new(state.HardState.Promised, held);
    }

    /// <summary>The later of two notes of the same id (each part raised on its own: neither is ever given back).</summary>
    public FormerReplica Max(FormerReplica other) =>
        new(Promised.CompareTo(other.Promised) >= 0 ? Promised : other.Promised, Math.Max(HeldThrough, other.HeldThrough));

    /// <summary>
    /// The hard state a successor starts from: the promise, no commit, and a vote floor just above
    /// <see cref="HeldThrough"/> (<see cref="PaxosReplica.Restart"/> raises it further to its view's floor).
    /// </summary>
    public HardState SuccessorHardState => new(Promised, 0, HeldThrough + 1);
}

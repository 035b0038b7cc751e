namespace OpenReplica.Consensus;

/// <summary>
/// A Paxos ballot: a round number made unique by the proposing replica's id. Ballots are totally ordered,
/// round first, then replica id, so two replicas never use the same ballot.
/// </summary>
public readonly record struct Ballot(long Round, long ReplicaId) : IComparable<Ballot>
{
    /// <summary>The ballot below every real one: no promise made yet.</summary>
    public static readonly Ballot Zero = new(0, 0);

    /// <summary>Whether this is <see cref="Zero"/> (nothing promised or accepted).</summary>
    public bool IsZero => Round == 0 && ReplicaId == 0;

    /// <inheritdoc/>
    public int CompareTo(Ballot other)
    {
        int byRound = Round.CompareTo(other.Round);
        return byRound != 0 ? byRound : ReplicaId.CompareTo(other.ReplicaId);
    }

    /// <summary>Whether <paramref name="a"/> is lower than <paramref name="b"/> (by round, then replica id).</summary>
    public static bool operator <(Ballot a, Ballot b) => a.CompareTo(b) < 0;
    /// <summary>Whether <paramref name="a"/> is higher than <paramref name="b"/> (by round, then replica id).</summary>
    public static bool operator >(Ballot a, Ballot b) => a.CompareTo(b) > 0;
    /// <summary>Whether <paramref name="a"/> is lower than or equal to <paramref name="b"/>.</summary>
    public static bool operator <=(Ballot a, Ballot b) => a.CompareTo(b) <= 0;
    /// <summary>Whether <paramref name="a"/> is higher than or equal to <paramref name="b"/>.</summary>
    public static bool operator >=(Ballot a, Ballot b) => a.CompareTo(b) >= 0;

    /// <summary>The higher of two ballots.</summary>
    public static Ballot Max(Ballot a, Ballot b) => a >= b ? a : b;

    /// <summary>The ballot as <c>round.replicaId</c>, as traces and tools print it.</summary>
    public override string ToString() => $"{Round}.{ReplicaId}";
}

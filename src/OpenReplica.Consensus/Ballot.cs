namespace OpenReplica.Consensus;

/// <summary>
/// A Paxos ballot: a round number made unique by the proposing replica's id. Ballots are totally ordered,
/// round first, then replica id, so two replicas never use the same ballot.
/// </summary>
public readonly record struct Ballot(long Round, long ReplicaId) : IComparable<Ballot>
{
    public static readonly Ballot Zero = new(0, 0);

    public bool IsZero => Round == 0 && ReplicaId == 0;

    public int CompareTo(Ballot other)
    {
        int byRound = Round.CompareTo(other.Round);
        return byRound != 0 ? byRound : ReplicaId.CompareTo(other.ReplicaId);
    }

    public static bool operator <(Ballot a, Ballot b) => a.CompareTo(b) < 0;
    public static bool operator >(Ballot a, Ballot b) => a.CompareTo(b) > 0;
    public static bool operator <=(Ballot a, Ballot b) => a.CompareTo(b) <= 0;
    public static bool operator >=(Ballot a, Ballot b) => a.CompareTo(b) >= 0;

    public static Ballot Max(Ballot a, Ballot b) => a >= b ? a : b;

    public override string ToString() => $"{Round}.{ReplicaId}";
}

namespace OpenReplica.Consensus;

/// <summary>The set of acceptors of a group. Immutable; members are kept sorted so equal configs compare equal.</summary>
public sealed class ClusterConfig : IEquatable<ClusterConfig>
{
    public ClusterConfig(IEnumerable<long> members)
    {
        Members = members.Distinct().Order().ToArray();
        if (Members.Count == 0)
        {
            throw new ArgumentException("a configuration needs at least one member", nameof(members));
        }
    }

    public IReadOnlyList<long> Members { get; }

    public bool Contains(long replicaId) => Members.Contains(replicaId);

    public ClusterConfig With(long added) => new(Members.Append(added));

    public ClusterConfig Without(long removed) => new(Members.Where(m => m != removed));

    public ClusterConfig Replace(long removed, long added) => new(Members.Where(m => m != removed).Append(added));

    public bool Equals(ClusterConfig? other) => other is not null && Members.SequenceEqual(other.Members);

    public override bool Equals(object? obj) => Equals(obj as ClusterConfig);

    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (long m in Members) hash.Add(m);
        return hash.ToHashCode();
    }

    public override string ToString() => "{" + string.Join(",", Members) + "}";
}

namespace OpenReplica.Consensus;

/// <summary>The set of acceptors of a group. Immutable; members are kept sorted so equal configs compare equal.</summary>
public sealed class ClusterConfig : IEquatable<ClusterConfig>
{
    /// <summary>A configuration of the given replica ids (sorted, duplicates dropped); at least one.</summary>
    /// <param name="members">The voting replicas of the group.</param>
    public ClusterConfig(IEnumerable<long> members)
    {
        _members = members.Distinct().Order().ToArray();
        if (_members.Length == 0)
        {
            throw new ArgumentException("a configuration needs at least one member", nameof(members));
        }
    }

    private readonly long[] _members;

    /// <summary>The voting replicas, sorted by id.</summary>
    public IReadOnlyList<long> Members => _members;

    /// <summary>
    /// The members without an interface in between: the core walks them for every vote and proposal, and a foreach
    /// over <see cref="Members"/> allocates an enumerator each time.
    /// </summary>
    internal ReadOnlySpan<long> MemberSpan => _members;

    /// <summary>Whether <paramref name="replicaId"/> votes in this configuration.</summary>
    public bool Contains(long replicaId) => Array.IndexOf(_members, replicaId) >= 0;

    /// <summary>A new configuration with <paramref name="added"/> as one more member.</summary>
    public ClusterConfig With(long added) => new(Members.Append(added));

    /// <summary>A new configuration without <paramref name="removed"/>.</summary>
    public ClusterConfig Without(long removed) => new(Members.Where(m => m != removed));

    /// <summary>A new configuration with <paramref name="removed"/> replaced by <paramref name="added"/> (one reconfiguration step).</summary>
    public ClusterConfig Replace(long removed, long added) => new(Members.Where(m => m != removed).Append(added));

    /// <summary>Whether both configurations have the same members.</summary>
    public bool Equals(ClusterConfig? other) => other is not null && Members.SequenceEqual(other.Members);

    /// <inheritdoc/>
    public override bool Equals(object? obj) => Equals(obj as ClusterConfig);

    /// <inheritdoc/>
    public override int GetHashCode()
    {
        var hash = new HashCode();
        foreach (long m in Members) hash.Add(m);
        return hash.ToHashCode();
    }

    /// <summary>The members as <c>{1,2,3}</c>.</summary>
    public override string ToString() => "{" + string.Join(",", Members) + "}";
}

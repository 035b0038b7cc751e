namespace OpenReplica.Consensus;

/// <summary>
/// Decides whether a set of replicas that voted is a quorum of a configuration. Any rule is safe as long as
/// every two quorums of the same configuration intersect.
/// </summary>
public interface IQuorumRule
{
    /// <summary>Whether <paramref name="voters"/> (replica ids that voted) form a quorum of <paramref name="config"/>.</summary>
    bool IsQuorum(ClusterConfig config, IReadOnlySet<long> voters);
}

/// <summary>A strict majority of the configuration's members (the default).</summary>
public sealed class MajorityQuorum : IQuorumRule
{
    /// <summary>The shared instance (the rule has no state).</summary>
    public static readonly MajorityQuorum Instance = new();

    /// <summary>True when more than half of the configuration's members voted.</summary>
    public bool IsQuorum(ClusterConfig config, IReadOnlySet<long> voters)
    {
        int count = 0;
        foreach (long m in config.MemberSpan)
        {
            if (voters.Contains(m)) count++;
        }
        return count * 2 > config.MemberSpan.Length;
    }
}

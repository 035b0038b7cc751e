using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

public class QuorumTests
{
    private static IReadOnlySet<long> Set(params long[] ids) => new HashSet<long>(ids);

    [Theory]
    [InlineData(new long[] { 1, 2, 3 }, new long[] { 1, 2 }, true)]
    [InlineData(new long[] { 1, 2, 3 }, new long[] { 3 }, false)]
    [InlineData(new long[] { 1, 2, 3, 4 }, new long[] { 1, 2 }, false)]
    [InlineData(new long[] { 1, 2, 3, 4 }, new long[] { 2, 3, 4 }, true)]
    [InlineData(new long[] { 1, 2, 3 }, new long[] { 1, 8, 9 }, false)] // voters outside the config do not count
    [InlineData(new long[] { 5 }, new long[] { 5 }, true)]
    public void Majority_needs_more_than_half_of_the_members(long[] members, long[] voters, bool quorum)
    {
        Assert.Equal(quorum, MajorityQuorum.Instance.IsQuorum(new ClusterConfig(members), Set(voters)));
    }

    /// <summary>Every quorum contains replica 1 plus one more: any two intersect (in replica 1).</summary>
    private sealed class AnchoredQuorum(long anchor) : IQuorumRule
    {
        public int Calls { get; private set; }

        public bool IsQuorum(ClusterConfig config, IReadOnlySet<long> voters)
        {
            Calls++;
            return voters.Contains(anchor) && config.Members.Count(voters.Contains) >= 2;
        }
    }

    [Fact]
    public void A_custom_quorum_rule_decides_elections_and_commits()
    {
        var rule = new AnchoredQuorum(anchor: 1);
        var c = new Cluster(3, o => o.Quorum = rule);

        // {2, 3} is a majority, but not a quorum under this rule.
        c.Isolate(1);
        c.Campaign(2);
        c.DeliverAll();
        Assert.Equal(ReplicaRole.Candidate, c[2].Role);
        Assert.True(rule.Calls > 0);

        // r1 missed r2's ballot 1.2: its first ballot (1.1) is refused, the second (2.1) is promised by r3 alone.
        c.Heal();
        c.Campaign(1);
        c.DeliverAll();
        Assert.Equal(ReplicaRole.Follower, c[1].Role);
        c.Campaign(1);
        c.DeliverQueued(m => m is Prepare { To: 3 });
        c.DeliverQueued(m => m is Promise { From: 3 });
        Assert.True(c[1].IsLeader);
        Assert.Equal(new Ballot(2, 1), c[1].LeaderBallot);

        // r1 with r3 commits without r2.
        c.Isolate(2);
        c.Propose(1, "anchored");
        c.DeliverAll();
        Assert.Equal(["anchored"], c.StateOf(1));
    }
}

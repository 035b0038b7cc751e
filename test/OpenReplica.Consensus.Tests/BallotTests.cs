using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

public class BallotTests
{
    [Fact]
    public void Round_orders_first_then_replica_id()
    {
        var low = new Ballot(1, 9);
        var high = new Ballot(2, 1);
        Assert.True(low < high);
        Assert.True(high > low);
        Assert.True(new Ballot(3, 1) < new Ballot(3, 2));
        Assert.Equal(0, new Ballot(3, 2).CompareTo(new Ballot(3, 2)));
        Assert.True(new Ballot(3, 2) <= new Ballot(3, 2) && new Ballot(3, 2) >= new Ballot(3, 2));
    }

    [Fact]
    public void Zero_is_below_every_real_ballot_and_max_picks_the_higher()
    {
        Assert.True(Ballot.Zero.IsZero);
        Assert.True(Ballot.Zero < new Ballot(0, 1));
        Assert.False(new Ballot(0, 1).IsZero);
        Assert.Equal(new Ballot(2, 1), Ballot.Max(new Ballot(1, 3), new Ballot(2, 1)));
        Assert.Equal(new Ballot(2, 1), Ballot.Max(new Ballot(2, 1), new Ballot(1, 3)));
    }

    [Fact]
    public void Sorting_ballots_is_total_and_matches_the_operators()
    {
        var ballots = new[] { new Ballot(2, 1), new Ballot(1, 3), new Ballot(2, 0), new Ballot(1, 1) };
        var sorted = ballots.Order().ToArray();
        Assert.Equal([new Ballot(1, 1), new Ballot(1, 3), new Ballot(2, 0), new Ballot(2, 1)], sorted);
        for (int i = 1; i < sorted.Length; i++) Assert.True(sorted[i - 1] < sorted[i]);
    }

    [Fact]
    public void A_new_campaign_uses_a_round_above_everything_seen()
    {
        var c = new Cluster(3);
        c.Elect(1);
        Assert.Equal(new Ballot(1, 1), c[1].LeaderBallot);
        c.Campaign(3);
        c.DeliverAll();
        // r3 saw round 1 (its promise to r1), so it campaigns with round 2, above r1's ballot whatever the ids.
        Assert.Equal(new Ballot(2, 3), c[3].LeaderBallot);
        c.Campaign(1);
        c.DeliverAll();
        Assert.Equal(new Ballot(3, 1), c[1].LeaderBallot);
        Assert.True(c[1].IsLeader);
    }
}

using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>A silo's claim table and the birth decision rule, case by case (BirthProtocolTests runs them over interleavings).</summary>
public sealed class BirthClaimsTests
{
    private const string Group = "3|account/a";

    internal sealed class ManualClock : IEngineClock
    {
        public long Now { get; set; } = 1_000;
    }

    private static BirthClaim Claim(long proposer, long attempt, long version = 0, params long[] config) =>
        new(config.Length > 0 ? config : [1, 2, 3], proposer, attempt, version);

    [Fact]
    public void The_first_claim_wins_until_it_is_released_by_its_own_attempt()
    {
        var claims = new BirthClaims(new ManualClock(), lifetimeMs: 30_000);
        Assert.Equal(BirthAnswerKind.Granted, claims.TryClaim(Group, Claim(5, 1), () => false, out _));
        Assert.Equal(BirthAnswerKind.Claimed, claims.TryClaim(Group, Claim(7, 1, 0, 2, 3, 4), () => false, out var other));
        Assert.Equal(5, other!.Proposer);
        Assert.Equal([1, 2, 3], other.Config);

        claims.Release(Group, proposer: 5, attempt: 99); // a late release of another attempt removes nothing
        Assert.Equal(BirthAnswerKind.Claimed, claims.TryClaim(Group, Claim(7, 1), () => false, out _));
        claims.Release(Group, proposer: 5, attempt: 1);
        Assert.Equal(BirthAnswerKind.Granted, claims.TryClaim(Group, Claim(7, 1), () => false, out _));
    }

    [Fact]
    public void A_proposers_newer_attempt_replaces_its_own_claim()
    {
        var claims = new BirthClaims(new ManualClock(), lifetimeMs: 30_000);
        Assert.Equal(BirthAnswerKind.Granted, claims.TryClaim(Group, Claim(5, 1), () => false, out _));
        Assert.Equal(BirthAnswerKind.Granted, claims.TryClaim(Group, Claim(5, 2, 1, 2, 3, 4), () => false, out _));
        claims.Release(Group, 5, 1); // the old attempt's release does not remove the new claim
        Assert.Equal(BirthAnswerKind.Claimed, claims.TryClaim(Group, Claim(6, 1), () => false, out var other));
        Assert.Equal([2, 3, 4], other!.Config);
    }

    [Fact]
    public void A_claim_expires_after_its_lifetime_and_a_repeated_ask_renews_it()
    {
        var clock = new ManualClock();
        var claims = new BirthClaims(clock, lifetimeMs: 1_000);
        Assert.Equal(BirthAnswerKind.Granted, claims.TryClaim(Group, Claim(5, 1), () => false, out _));
        clock.Now += 900;
        Assert.Equal(BirthAnswerKind.Granted, claims.TryClaim(Group, Claim(5, 1), () => false, out _)); // renewed
        clock.Now += 900;
        Assert.Equal(BirthAnswerKind.Claimed, claims.TryClaim(Group, Claim(6, 1), () => false, out _));
        clock.Now += 101;
        Assert.False(claims.AnyLive);
        Assert.Equal(BirthAnswerKind.Granted, claims.TryClaim(Group, Claim(6, 1), () => false, out _));
    }

    [Fact]
    public void A_replica_here_answers_instead_of_any_claim_and_settling_drops_the_claim()
    {
        var claims = new BirthClaims(new ManualClock(), lifetimeMs: 30_000);
        bool held = false;
        Assert.Equal(BirthAnswerKind.Granted, claims.TryClaim(Group, Claim(5, 1), () => held, out _));
        claims.Settle(Group, () => held = true);
        Assert.True(held);
        Assert.Equal(0, claims.Count);
        Assert.Equal(BirthAnswerKind.Existing, claims.TryClaim(Group, Claim(6, 1), () => held, out _));
    }

    [Fact]
    public void A_silo_back_after_a_crash_grants_nothing_until_forgotten_claims_would_have_expired()
    {
        var clock = new ManualClock();
        var claims = new BirthClaims(clock, lifetimeMs: 1_000, grantsFrom: clock.Now + 1_000);
        Assert.Equal(BirthAnswerKind.Refused, claims.TryClaim(Group, Claim(5, 1), () => false, out _));
        clock.Now += 1_000;
        Assert.Equal(BirthAnswerKind.Granted, claims.TryClaim(Group, Claim(5, 1), () => false, out _));
        claims.Close();
        Assert.Equal(BirthAnswerKind.Refused, claims.TryClaim("3|account/b", Claim(5, 1), () => false, out _));
    }

    [Fact]
    public void The_table_is_bounded_and_expired_claims_leave_it()
    {
        var clock = new ManualClock();
        var claims = new BirthClaims(clock, lifetimeMs: 1_000);
        for (int i = 0; i < BirthClaims.Capacity; i++) Assert.Equal(BirthAnswerKind.Granted, claims.TryClaim($"3|account/{i}", Claim(5, 1), () => false, out _));
        Assert.Equal(BirthAnswerKind.Refused, claims.TryClaim("3|account/one-more", Claim(5, 1), () => false, out _));
        clock.Now += 1_000;
        Assert.Equal(BirthAnswerKind.Granted, claims.TryClaim("3|account/one-more", Claim(5, 1), () => false, out _));
        Assert.Equal(1, claims.Count);
    }

    [Fact]
    public void A_graceful_stop_saves_the_live_claims_and_the_restart_honours_them()
    {
        var clock = new ManualClock();
        var before = new BirthClaims(clock, lifetimeMs: 1_000);
        before.TryClaim("3|account/old", Claim(6, 1), () => false, out _);
        clock.Now += 600;
        before.TryClaim(Group, Claim(5, 7, 3, 1, 2, 4), () => false, out _);
        before.TryClaim("3|account/\t\n odd key", Claim(8, 2), () => false, out _);
        clock.Now += 500; // "old" expired, the others live
        byte[] file = BirthClaimsFile.Encode(before.Live());

        var saved = BirthClaimsFile.Decode(file);
        Assert.NotNull(saved);
        Assert.Equal(2, saved.Count);
        var after = new BirthClaims(new ManualClock(), lifetimeMs: 1_000);
        foreach (var (groupId, claim, remaining) in saved) after.Restore(groupId, claim, remaining);
        Assert.Equal(BirthAnswerKind.Claimed, after.TryClaim(Group, Claim(9, 1), () => false, out var other));
        Assert.Equal((5L, 7L, 3L), (other!.Proposer, other.Attempt, other.RosterVersion));
        Assert.Equal([1, 2, 4], other.Config);
        Assert.Equal(BirthAnswerKind.Claimed, after.TryClaim("3|account/\t\n odd key", Claim(9, 1), () => false, out _));
        Assert.Equal(BirthAnswerKind.Granted, after.TryClaim("3|account/old", Claim(9, 1), () => false, out _));
    }

    [Fact]
    public void A_claims_file_that_is_not_a_clean_stops_reads_as_forgotten_claims()
    {
        byte[] file = BirthClaimsFile.Encode([(Group, Claim(5, 1), 100L)]);
        Assert.Null(BirthClaimsFile.Decode(BirthClaimsFile.Granting)); // the silo crashed while running
        Assert.Null(BirthClaimsFile.Decode(file.AsSpan(0, file.Length - 1))); // torn
        file[10] ^= 0x40;
        Assert.Null(BirthClaimsFile.Decode(file)); // corrupted
        Assert.Null(BirthClaimsFile.Decode([]));
        Assert.NotNull(BirthClaimsFile.Decode(BirthClaimsFile.Encode([])));
    }

    // --- the decision rule

    private static readonly ClusterConfig Roster = new([1, 2, 3, 4, 5]);

    private static BirthReply Granted(long member, long version = 0) => new(member, new BirthAnswer(BirthAnswerKind.Granted, null, 0, version));

    [Fact]
    public void A_majority_of_grants_and_nothing_else_proceeds()
    {
        var own = Claim(1, 1);
        var verdict = BirthDecision.Decide(own, Roster, 3, [Granted(1), Granted(2), Granted(3), new(4, null), new(5, null)]);
        Assert.Equal(BirthStep.Proceed, verdict.Step);
        Assert.Equal(new ClusterConfig([1, 2, 3]), verdict.Config);

        verdict = BirthDecision.Decide(own, Roster, 3, [Granted(1), Granted(2), new(3, new BirthAnswer(BirthAnswerKind.Refused, null, 0, 0)), new(4, null), new(9, new BirthAnswer(BirthAnswerKind.Granted, null, 0, 0))]);
        Assert.Equal(BirthStep.Retry, verdict.Step); // 2 of 5 roster members (a non-member's grant does not count)
        Assert.False(verdict.Release);
    }

    [Fact]
    public void An_existing_replica_is_adopted_before_anything_else()
    {
        var verdict = BirthDecision.Decide(Claim(1, 1), Roster, 3,
            [Granted(1), new(2, new BirthAnswer(BirthAnswerKind.Claimed, [2, 3, 4], 0, 0)), new(5, new BirthAnswer(BirthAnswerKind.Existing, [3, 4, 5], 0, 9, [1, 2]))]);
        Assert.Equal(BirthStep.Adopt, verdict.Step);
        Assert.Equal(new ClusterConfig([3, 4, 5]), verdict.Config);
    }

    [Fact]
    public void The_newest_configuration_among_existing_replicas_is_adopted()
    {
        // Replica 1 is still catching up (or the group left it): it names a configuration in force from slot 36; the
        // members the group has now name the one in force from slot 400. Adopting 1's (the lowest id) started the new
        // replica on a configuration whose members may have forgotten the group.
        BirthReply Existing(long member, long[] config, long fromSlot) => new(member, new BirthAnswer(BirthAnswerKind.Existing, config, 0, 0, null, fromSlot));
        var verdict = BirthDecision.Decide(Claim(9, 1), Roster, 3,
            [Existing(1, [1, 2, 5], 36), Existing(3, [3, 4, 6], 400), Existing(4, [3, 4, 6], 400), Granted(2), new(5, null)]);
        Assert.Equal(BirthStep.Adopt, verdict.Step);
        Assert.Equal(new ClusterConfig([3, 4, 6]), verdict.Config);
        Assert.Contains("replica 3", verdict.Reason); // among equals, the lowest id, as before
    }

    [Fact]
    public void A_silo_that_dropped_a_replica_of_the_group_adopts_only_a_newer_configuration_and_never_starts_it_anew()
    {
        // This silo dropped its replica when the configuration from slot 200 was in force (ForgottenGroups' note). A
        // replica that answers with an older one lags: a replica started from its view would be an empty acceptor where
        // the dropped one voted. And with no replica answering, a new group would start a second log for the grain.
        BirthReply Existing(long member, long[] config, long fromSlot) => new(member, new BirthAnswer(BirthAnswerKind.Existing, config, 0, 0, null, fromSlot));
        var lagging = BirthDecision.Decide(Claim(9, 1), Roster, 3, [Existing(1, [1, 2, 9], 36), Granted(2), Granted(3), Granted(4)], forgottenFromSlot: 200);
        Assert.Equal(BirthStep.Retry, lagging.Step);
        Assert.True(lagging.Release);
        Assert.Contains("lag", lagging.Reason);

        var nobody = BirthDecision.Decide(Claim(9, 1), Roster, 3, [Granted(1), Granted(2), Granted(3), Granted(4), Granted(5)], forgottenFromSlot: 200);
        Assert.Equal(BirthStep.Retry, nobody.Step); // a majority granted, which proceeds without the note (above)
        Assert.Contains("none of its replicas answered", nobody.Reason);

        var current = BirthDecision.Decide(Claim(9, 1), Roster, 3, [Existing(1, [1, 2, 9], 36), Existing(3, [3, 4, 9], 232), Granted(2)], forgottenFromSlot: 200);
        Assert.Equal(BirthStep.Adopt, current.Step); // added back: a configuration chosen after the one that removed it
        Assert.Equal(new ClusterConfig([3, 4, 9]), current.Config);

        // The configuration that removed this silo, still current: adopted, since it does not name this silo (the new
        // replica votes only past it, and the activation can lead the move that adds this silo back).
        var removed = BirthDecision.Decide(Claim(9, 1), Roster, 3, [Existing(3, [3, 4, 5], 200), Granted(2)], forgottenFromSlot: 200);
        Assert.Equal(BirthStep.Adopt, removed.Step);
        Assert.Equal(new ClusterConfig([3, 4, 5]), removed.Config);
    }

    [Fact]
    public void A_newer_roster_withdraws_the_claim_and_is_learned()
    {
        var verdict = BirthDecision.Decide(Claim(1, 1, version: 4), Roster, 3,
            [Granted(1, 4), Granted(2, 4), Granted(3, 4), new(4, new BirthAnswer(BirthAnswerKind.Granted, null, 0, 6, [1, 2, 3, 4, 6]))]);
        Assert.Equal(BirthStep.Retry, verdict.Step);
        Assert.True(verdict.Release);
        Assert.Equal((new ClusterConfig([1, 2, 3, 4, 6]), 6L), verdict.NewerRoster);
    }

    [Fact]
    public void Another_claim_blocks_and_the_lower_proposer_keeps_its_claims()
    {
        BirthReply ClaimedBy(long member, long proposer) => new(member, new BirthAnswer(BirthAnswerKind.Claimed, [2, 3, 4], proposer, 0));
        var higher = BirthDecision.Decide(Claim(3, 1), Roster, 3, [Granted(1), Granted(2), Granted(3), ClaimedBy(4, proposer: 2)]);
        Assert.Equal(BirthStep.Retry, higher.Step);
        Assert.True(higher.Release); // 2 has priority over 3: give way even with a majority granted
        var lower = BirthDecision.Decide(Claim(1, 1), Roster, 3, [Granted(1), Granted(2), Granted(3), ClaimedBy(4, proposer: 2)]);
        Assert.Equal(BirthStep.Retry, lower.Step);
        Assert.False(lower.Release);
    }

    [Fact]
    public void Too_many_silent_roster_members_may_hide_the_group()
    {
        var verdict = BirthDecision.Decide(Claim(1, 1), Roster, 2, [Granted(1), Granted(2), Granted(3), new(4, null), new(5, null)]);
        Assert.Equal(BirthStep.Retry, verdict.Step);
        Assert.Contains("did not answer", verdict.Reason);
    }
}

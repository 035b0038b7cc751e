using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>What a birth round ends in.</summary>
internal enum BirthStep
{
    /// <summary>Start the group on the proposed configuration.</summary>
    Proceed,

    /// <summary>The group exists: start a replica from the configuration an existing replica named.</summary>
    Adopt,

    /// <summary>A query round saw no replica and no claim: claim now.</summary>
    Claim,

    /// <summary>Not decided this round: ask again after a pause (releasing this attempt's claims first if <see cref="BirthVerdict.Release"/>).</summary>
    Retry,
}

/// <summary>The outcome of one birth round.</summary>
/// <param name="Step">Proceed, adopt or retry.</param>
/// <param name="Config">The configuration to start from (proceed, adopt); null for a retry.</param>
/// <param name="Release">Whether the proposer withdraws this attempt's claims (it gives way, or its roster is stale).</param>
/// <param name="NewerRoster">A newer roster an answering silo knows (members and version), to adopt before the next round.</param>
/// <param name="Reason">Why, for logs and for the exception when the attempts run out.</param>
/// <param name="Watch">The proposer gave way: it only asks (queries) from now on until no other claim is left.</param>
internal sealed record BirthVerdict(BirthStep Step, ClusterConfig? Config, bool Release, (ClusterConfig Roster, long Version)? NewerRoster, string Reason, bool Watch = false)
{
    /// <summary>For <see cref="BirthStep.Adopt"/>: the existing replica's configuration history, which the new replica starts from.</summary>
    public ConfigHistory? Adopted { get; init; }
}

/// <summary>One silo's answer in a birth round: null when the silo did not answer (error, timeout, no known address).</summary>
/// <param name="Member">The asked silo's replica id.</param>
/// <param name="Answer">Its answer, or null.</param>
internal readonly record struct BirthReply(long Member, BirthAnswer? Answer);

/// <summary>
/// The rule that decides a birth round from the answers of every silo asked (pure: no clock, no I/O; tested over
/// interleavings in <c>BirthProtocolTests</c>). In order:
/// 1. a silo holds a replica: the group exists, adopt the newest configuration the replicas name (a replica that is
///    still catching up names one the group may have left long ago: its members may have forgotten the group, and a
///    campaign on it would have them start empty replicas and promise with nothing — docs/placement.md, "Session 8");
/// 2. a silo knows a newer roster: this proposal was computed from a stale one, withdraw it and retry on the newer;
/// 3. a silo holds another proposer's claim: retry, withdrawing this attempt's claims if that proposer has priority
///    (lower replica id) and only asking (a query) from then on until no claim is left, keeping them otherwise (the
///    other gives way) — so the proposer with priority is not blocked again by the one that gave way;
/// 4. at least R (the replica count) roster members did not answer: they could hide an existing group, retry;
/// 5. a majority of the roster granted this claim: proceed; else retry.
/// A silo that dropped a replica of the group (its note in <see cref="ForgottenGroups"/>) knows the group exists: it
/// never proceeds to a new group, and adopts a configuration that names it only if it is newer than the one its
/// dropped replica knew (rule 0).
/// Safety: a proposer proceeds only with its own grants from a majority of its roster and no other claim seen; two
/// proposers with the same roster share a silo in their majorities, and a silo holds one claim at a time, released
/// only by a proposer that does not proceed in that round — so at most one of two different configurations proceeds.
/// </summary>
internal static class BirthDecision
{
    /// <param name="own">This round's claim (or query).</param>
    /// <param name="roster">The roster the claim was computed from.</param>
    /// <param name="replicas">The group's replica count.</param>
    /// <param name="replies">Every asked silo's answer.</param>
    /// <param name="forgottenFromSlot">
    /// This silo dropped a replica of the group whose newest configuration was in force from this slot (null: it never
    /// held one, or holds one again).
    /// </param>
    public static BirthVerdict Decide(BirthClaim own, ClusterConfig roster, int replicas, IReadOnlyList<BirthReply> replies, long? forgottenFromSlot = null)
    {
        var newest = replies
            .Where(r => r.Answer is { Kind: BirthAnswerKind.Existing, Config.Length: > 0 })
            .OrderByDescending(r => r.Answer!.ConfigFromSlot).ThenBy(r => r.Member)
            .FirstOrDefault();
        if (forgottenFromSlot is { } forgotten
            && (newest.Answer is not { } known || (known.Config!.Contains(own.Proposer) && known.ConfigFromSlot <= forgotten)))
        {
            // Rule 0. The replicas that answered lag (or none did): a replica started from their view, which names this
            // silo, would be an empty acceptor where the dropped one voted, and a new group would start a second log for
            // the same grain. A view that does not name this silo is adopted: the new replica votes only from past it
            // (its vote floor), and the move that adds this silo back needs an activation to lead it.
            return new(BirthStep.Retry, null, Release: true, null, newest.Answer is { } lagging
                ? $"this silo dropped its replica of the group when a configuration from slot {forgotten} was in force, and the newest one the answering replicas know is from slot {lagging.ConfigFromSlot}: they lag"
                : $"this silo held a replica of the group before (dropped when a configuration from slot {forgotten} was in force), so the group exists, but none of its replicas answered");
        }
        if (newest.Answer is { } existing)
        {
            return new(BirthStep.Adopt, new ClusterConfig(existing.Config!), Release: true, null,
                $"replica {newest.Member} holds the group (configuration in force from slot {existing.ConfigFromSlot})")
            {
                Adopted = ConfigEpoch.History(existing.Epochs, existing.Config!, existing.ConfigFromSlot),
            };
        }
        var newer = replies.Select(r => r.Answer).Where(a => a is { RosterMembers.Length: > 0 } && a.RosterVersion > own.RosterVersion).MaxBy(a => a!.RosterVersion);
        if (newer is not null)
        {
            return new(BirthStep.Retry, null, Release: true, (new ClusterConfig(newer.RosterMembers!), newer.RosterVersion),
                $"a silo knows roster version {newer.RosterVersion}, newer than {own.RosterVersion}");
        }
        var others = replies.Where(r => r.Answer is { Kind: BirthAnswerKind.Claimed }).Select(r => r.Answer!).ToList();
        if (own.Query)
        {
            return others.Count > 0
                ? new(BirthStep.Retry, null, Release: false, null, $"waits while replica {others.Min(a => a.Proposer)} claims the group")
                : new(BirthStep.Claim, null, Release: false, null, "no replica and no claim is left");
        }
        if (others.Count > 0)
        {
            var first = others.MinBy(a => a.Proposer)!;
            bool givesWay = first.Proposer < own.Proposer;
            return new(BirthStep.Retry, null, Release: givesWay, null,
                $"replica {first.Proposer} claims the group for {{{string.Join(",", first.Config ?? [])}}}{(givesWay ? " and has priority" : "")}", Watch: givesWay);
        }
        var answered = replies.Where(r => r.Answer is not null).Select(r => r.Member).ToHashSet();
        int unanswered = roster.Members.Count(m => !answered.Contains(m));
        if (unanswered >= replicas)
        {
            return new(BirthStep.Retry, null, Release: false, null,
                $"{unanswered} roster members did not answer whether they hold the group, so it may exist there");
        }
        int granted = replies.Count(r => r.Answer is { Kind: BirthAnswerKind.Granted } && roster.Contains(r.Member));
        int majority = roster.Members.Count / 2 + 1;
        return granted >= majority
            ? new(BirthStep.Proceed, new ClusterConfig(own.Config), Release: false, null, $"{granted} of {roster.Members.Count} roster members granted the claim")
            : new(BirthStep.Retry, null, Release: false, null, $"only {granted} of {roster.Members.Count} roster members granted the claim (a majority is {majority})");
    }
}

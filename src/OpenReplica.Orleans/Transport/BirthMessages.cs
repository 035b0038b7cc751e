namespace OpenReplica.Orleans;

/// <summary>
/// A silo's proposal of a new group's first configuration, sent to every live silo before the group is started
/// (<see cref="IReplicaHost.ClaimBirthAsync"/>). Each silo keeps at most one live claim per group, so two births of
/// one group see each other.
/// </summary>
/// <param name="Config">The proposed first configuration (replica ids, sorted).</param>
/// <param name="Proposer">The proposing silo's replica id; a lower id has priority when two births meet.</param>
/// <param name="Attempt">The proposer's number for this attempt: a release names it, so a late release of an older attempt removes nothing newer.</param>
/// <param name="RosterVersion">The version of the roster the configuration was computed from.</param>
/// <param name="Query">
/// Only ask, record nothing: a birth that gave way to a proposer with priority watches until the group exists or no
/// claim is left, instead of claiming again and again in its way.
/// </param>
[GenerateSerializer, Immutable]
public sealed record BirthClaim(
    [property: Id(0)] long[] Config,
    [property: Id(1)] long Proposer,
    [property: Id(2)] long Attempt,
    [property: Id(3)] long RosterVersion,
    [property: Id(4)] bool Query = false);

/// <summary>What a silo answered a <see cref="BirthClaim"/>.</summary>
public enum BirthAnswerKind
{
    /// <summary>The silo recorded the claim (or already held it); to a query: the silo holds neither a replica nor another claim.</summary>
    Granted = 0,

    /// <summary>The silo holds a replica of the group: <see cref="BirthAnswer.Config"/> is its newest configuration.</summary>
    Existing = 1,

    /// <summary>The silo holds another proposer's live claim: <see cref="BirthAnswer.Config"/> and <see cref="BirthAnswer.Proposer"/> name it.</summary>
    Claimed = 2,

    /// <summary>
    /// The silo grants no claim now (it restarted and may have forgotten claims it granted, its claim table is full, or
    /// its replica of the group is failed); it names no other configuration.
    /// </summary>
    Refused = 3,
}

/// <summary>A silo's answer to a <see cref="BirthClaim"/>, with the roster version it knows.</summary>
/// <param name="Kind">Granted, existing replica, another claim, or refused.</param>
/// <param name="Config">The existing replica's newest configuration or the other claim's configuration; null otherwise.</param>
/// <param name="Proposer">The other claim's proposer (for <see cref="BirthAnswerKind.Claimed"/>); 0 otherwise.</param>
/// <param name="RosterVersion">The roster version the answering silo knows.</param>
/// <param name="RosterMembers">That roster's members when it is newer than the claim's, so the proposer can adopt it; null otherwise.</param>
/// <param name="ConfigFromSlot">
/// For an existing replica: the slot from which <paramref name="Config"/> is in force, which orders configurations of
/// one group by age (a replica still catching up, or one the group left, names an older one); 0 otherwise.
/// </param>
/// <param name="Epochs">For an existing replica: its whole configuration history, which a silo that adopts it starts from; null otherwise.</param>
[GenerateSerializer, Immutable]
public sealed record BirthAnswer(
    [property: Id(0)] BirthAnswerKind Kind,
    [property: Id(1)] long[]? Config,
    [property: Id(2)] long Proposer,
    [property: Id(3)] long RosterVersion,
    [property: Id(4)] long[]? RosterMembers = null,
    [property: Id(5)] long ConfigFromSlot = 0,
    [property: Id(6)] ConfigEpoch[]? Epochs = null);

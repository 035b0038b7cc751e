namespace OpenReplica.Orleans.Replication;

/// <summary>
/// A silo's side of a birth claim (<see cref="BirthClaims"/>): what <see cref="IReplicaHost.ClaimBirthAsync"/> and
/// <see cref="IReplicaHost.ReleaseBirthAsync"/> do, called directly for the proposing silo's own answer.
/// </summary>
internal interface IBirthAcceptor
{
    Task<BirthAnswer> AnswerBirthClaimAsync(string groupId, BirthClaim claim);

    void ReleaseBirthClaim(string groupId, long proposer, long attempt);
}

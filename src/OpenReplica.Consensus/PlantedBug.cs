namespace OpenReplica.Consensus;

/// <summary>
/// Known bugs the simulator must be able to catch. Each switch breaks exactly one safety rule; production
/// code never sets them (the options validator refuses them unless <see cref="ReplicaOptions.AllowPlantedBugs"/>).
/// </summary>
[Flags]
public enum PlantedBug
{
    /// <summary>No planted bug (production).</summary>
    None = 0,
    /// <summary>Votes (promises and accepts) are sent without being persisted first; a crash forgets them.</summary>
    SkipPersistBeforeVote = 1,
    /// <summary>An acceptor accepts a ballot lower than the one it promised.</summary>
    AcceptLowerBallot = 2,
    /// <summary>The leader treats a slot as chosen as soon as it accepted it itself.</summary>
    CommitWithoutQuorum = 4,
    /// <summary>A new leader forgets the session table, so a retried command is applied again.</summary>
    ForgetDedupAfterLeaderChange = 8,
    /// <summary>Followers acknowledge lease heartbeats but still promise other candidates (no lease guard).</summary>
    LeaseWithoutGuard = 16,
    /// <summary>
    /// Not the core's: the simulator's state machine reads a replica-local value (as a grain method reading the wall
    /// clock would), and only after the replica restarted, so replicas diverge at the first replay after a crash.
    /// The state digests that replicas compare at the same slot must catch it (docs/determinism.md).
    /// </summary>
    NonDeterministicStateMachine = 32,
    /// <summary>
    /// A replica started from a peer's view (a silo added to an existing group) campaigns and leads before its log
    /// tells it the configurations in force below that view, taking the view's configuration as in force there too:
    /// its quorums for those slots are guesses and need not intersect the real ones.
    /// </summary>
    LeadBeforeKnownConfig = 64,
    /// <summary>
    /// A replica started from a peer's view after its silo had dropped an earlier replica of the group (a member added
    /// back) votes for slots below its vote floor: promises, accepts, read confirmations and its own campaign count
    /// there, though the votes its earlier replica cast for those slots are gone.
    /// </summary>
    VoteBelowFloor = 128,
    /// <summary>
    /// A member added back starts as an empty replica that forgot what its dropped predecessor under the same id promised
    /// and accepted (<see cref="FormerReplica"/>), though that replica may have voted in the configuration that added
    /// it back before its silo dropped it.
    /// </summary>
    ForgetFormerVotes = 256,
}

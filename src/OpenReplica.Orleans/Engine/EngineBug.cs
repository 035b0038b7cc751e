namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Engine bugs the deterministic simulator plants on purpose (<c>--plant</c>) to prove it catches them. Nothing but
/// the simulator sets them (<see cref="EngineWorker.PlantedBugs"/> is internal); a silo always runs with none.
/// </summary>
[Flags]
internal enum EngineBug
{
    None = 0,

    /// <summary>A replica's votes (promises, accepts' acknowledgements) leave before the step's fsync.</summary>
    VoteBeforeFsync = 1,

    /// <summary>
    /// An idle group is evicted while its last step's append is still being made durable, so its rebuild reads a WAL
    /// index that lacks that step (a stale index) while the evicted replica still sends the step's votes.
    /// </summary>
    EvictDuringPersist = 2,

    /// <summary>
    /// An activation that attaches in the middle of a step applies the entries its replay already applied again (the
    /// step's merged Ready carries entries committed by an input that ran before it attached).
    /// </summary>
    ReapplyOnAttach = 4,

    /// <summary>
    /// A step's hard state is taken for a commit-index-only one even when it raises the promise, so the promise
    /// leaves (and the step skips its fsync) before the promise is durable.
    /// </summary>
    PromiseWithoutFsync = 8,

    /// <summary>
    /// A group posted to while its step is in flight is queued at once (as before session 9), so a post that lands
    /// while the worker still gathers the step puts the group in it twice; a second Ready that needs no fsync is then
    /// handed out before the first and sends its messages before the first one's records are durable.
    /// </summary>
    TwiceInOneStep = 16,

    /// <summary>
    /// A replica started on first contact (a silo added to an existing group, or added back) takes the sender's newest
    /// configuration as in force from slot 1, as before 83c67b2: each configuration entry it then replays becomes its
    /// newest, so while it catches up it names configurations the group left, and a campaign of its activation
    /// prepares their members (gone or forgotten) and never wins. Planted in the simulator's first contact (the
    /// runtime's needs Orleans), which otherwise starts from the sender's whole history as the runtime does.
    /// </summary>
    FirstContactFromSlotOne = 32,

    /// <summary>
    /// A member that a move removed drops its replica on the word of one member that has the removal in force (the
    /// leader), as the rebalancer did before session 11, without waiting until a majority of the configuration that
    /// removed it holds that configuration's window on disk (<see cref="PeerView.RemovalIsDurable"/>). When the
    /// leader's silo then stops for good, the window's last slots need a quorum of the configuration with the dropped
    /// member and the group never elects a leader again. Planted in the simulator's mover (the rebalancer needs Orleans).
    /// </summary>
    ForgetBeforeRemovalDurable = 64,

    /// <summary>
    /// A removed member's drop, decided on an old view, is carried out although the replica voted since in a
    /// configuration that had added its silo back (<c>PeerView.StillLeft</c> without its vote check, as before
    /// session 35). The replica started next keeps clear of those votes, so a group that then loses one more member for
    /// good may never elect a leader again. Planted in the simulator's silo (the rebalancer needs Orleans).
    /// </summary>
    DropAfterVotingAgain = 128,
}

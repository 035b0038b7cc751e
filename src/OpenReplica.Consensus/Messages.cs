namespace OpenReplica.Consensus;

/// <summary>
/// The wire protocol between replicas of one group. Every message names its sender and receiver; the host
/// delivers it with <see cref="PaxosReplica.Step"/>. The network may drop, duplicate, delay and reorder
/// messages: every handler is idempotent and checks the ballot first.
/// </summary>
public abstract record Message(long From, long To);

/// <summary>Phase 1a: "promise me <paramref name="Ballot"/>, and tell me what you accepted after slot <paramref name="CommitIndex"/>".</summary>
public sealed record Prepare(long From, long To, Ballot Ballot, long CommitIndex) : Message(From, To);

/// <summary>
/// Phase 1b. <paramref name="Accepted"/> lists the acceptor's entries above the leader's commit index; those the
/// acceptor knows are chosen carry Chosen = true. <paramref name="SnapshotSlot"/> above the leader's commit
/// index means the acceptor no longer has those entries and the leader must fetch its snapshot first.
/// </summary>
public sealed record Promise(long From, long To, Ballot Ballot, long CommitIndex, long SnapshotSlot, IReadOnlyList<LogEntry> Accepted)
    : Message(From, To);

/// <summary>Phase 2a for several slots at once (pipelining), with the leader's commit index.</summary>
public sealed record Accept(long From, long To, Ballot Ballot, IReadOnlyList<LogEntry> Entries, long CommitIndex) : Message(From, To);

/// <summary>Phase 2b: the acceptor accepted these slots under <paramref name="Ballot"/>.</summary>
public sealed record Accepted(long From, long To, Ballot Ballot, IReadOnlyList<long> Slots) : Message(From, To);

/// <summary>A refusal: the sender has promised <paramref name="Promised"/>, higher than the ballot it was asked for.</summary>
public sealed record Rejected(long From, long To, Ballot Promised) : Message(From, To);

/// <summary>Leader liveness, commit propagation, and leadership confirmation for reads (<paramref name="ReadContext"/>).</summary>
public sealed record Heartbeat(long From, long To, Ballot Ballot, long CommitIndex, long ReadContext) : Message(From, To);

/// <summary>An acceptor still honours <paramref name="Ballot"/> (it has promised nothing higher).</summary>
public sealed record HeartbeatAck(long From, long To, Ballot Ballot, long ReadContext, long CommitIndex) : Message(From, To);

/// <summary>
/// The sender stopped leading at <paramref name="Ballot"/> on its own (an activation deactivated, a move's driver
/// resigned) and serves no lease read under it any more: a follower that guards that lease may end its guard, so the
/// next leader need not wait out the lease.
/// </summary>
public sealed record LeaseRelease(long From, long To, Ballot Ballot) : Message(From, To);

/// <summary>"Send me the chosen entries in [FromSlot, ToSlot]" (or a snapshot if you truncated them).</summary>
public sealed record CatchUpRequest(long From, long To, long FromSlot, long ToSlot) : Message(From, To);

/// <summary>Chosen entries, in slot order.</summary>
public sealed record CatchUpResponse(long From, long To, IReadOnlyList<LogEntry> Entries, long CommitIndex) : Message(From, To);

/// <summary>A snapshot for a replica that is behind the sender's truncated log.</summary>
public sealed record InstallSnapshot(long From, long To, Snapshot Snapshot) : Message(From, To);

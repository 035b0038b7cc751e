namespace OpenReplica.Consensus;

// The acceptor role: promises and accepts, never below a ballot already promised.
public sealed partial class PaxosReplica
{
    /// <summary>
    /// The ballot check every acceptor handler starts with: a ballot below our promise is refused (the sender learns
    /// the promise); a higher one is adopted (a leader or candidate here steps down). True when the message may be handled.
    /// </summary>
    private bool AdmitBallot(long from, Ballot ballot, bool allowLower = false)
    {
        if (ballot < _promised && !allowLower)
        {
            Send(new Rejected(Id, from, _promised));
            return false;
        }
        if (ballot > _promised)
        {
            if (_leader is not null) StepDown(from);
            SetPromised(ballot);
        }
        return true;
    }

    private void HandlePrepare(Prepare m)
    {
        if (!VotesAbove(m.CommitIndex))
        {
            // Below our vote floor we know nothing of our former votes: a promise would count there. The candidate gets
            // what we know chosen instead (facts, safe to tell anyone), and asks again with its higher commit index.
            if (_log.CommitIndex > m.CommitIndex) HandleCatchUpRequest(new CatchUpRequest(m.From, Id, m.CommitIndex + 1, _log.CommitIndex));
            return;
        }
        // Leased to another leader: stay silent until the guard ends; the candidate retransmits.
        if (m.Ballot > _promised && GuardsAgainst(m.From)) return;
        if (!AdmitBallot(m.From, m.Ballot)) return;
        // A campaign at a ballot whose lease was released is a new incarnation of that replica using the ballot again
        // (a replica dropped from the group and created anew starts its rounds over): its heartbeats are answered
        // again. Refused as late ones, none was ever acknowledged, and its reads waited for a confirmation that could
        // not come (session 29). A late heartbeat of the old incarnation can then grant a guard again: a wait, never a
        // wrong read.
        if (m.Ballot == _released) _released = null;
        // A would-be leader is alive: give it time before campaigning ourselves.
        if (_role == ReplicaRole.Follower) ResetElectionTimer();

        long from = Math.Max(m.CommitIndex, _log.SnapshotSlot);
        var accepted = _log.After(from)
            .Select(e => e.Chosen || e.Slot <= _log.CommitIndex ? e with { Chosen = true } : e)
            .ToList();
        Send(new Promise(Id, m.From, m.Ballot, _log.CommitIndex, _log.SnapshotSlot, accepted));
    }

    private void HandleAccept(Accept m)
    {
        if (!AdmitBallot(m.From, m.Ballot, allowLower: Has(PlantedBug.AcceptLowerBallot))) return;
        FollowLeader(m.From);

        var acked = new List<long>(m.Entries.Count);
        // Index loops over the messages' lists (here and in the other per-message handlers): a foreach over an
        // IReadOnlyList allocates an enumerator.
        for (int i = 0; i < m.Entries.Count; i++)
        {
            var proposed = m.Entries[i];
            if (proposed.Slot < Floor) continue; // no vote below the floor (VoteFloor)
            // A slot already chosen (or compacted) keeps its value: by Paxos it equals any later proposal for it.
            if (proposed.Slot > _log.SnapshotSlot && !_log.IsChosen(proposed.Slot))
            {
                Persist(_log.Accept(proposed.Slot, m.Ballot, proposed.Value));
            }
            acked.Add(proposed.Slot);
        }
        if (acked.Count > 0 || m.Entries.Count == 0) Send(new Accepted(Id, m.From, m.Ballot, acked));
        LearnCommit(m.Ballot, m.CommitIndex, m.From);
    }

    private void HandleHeartbeat(Heartbeat m)
    {
        if (!AdmitBallot(m.From, m.Ballot)) return;
        FollowLeader(m.From);
        // An answer confirms reads (a context) and feeds check-quorum (election mode); a heartbeat that only carries
        // the commit index needs none.
        bool wanted = m.ReadContext != 0 || _options.ElectionTimeoutTicks > 0;
        // Below our vote floor an answer would confirm reads and leases for slots where our former votes are gone.
        if (VotesAbove(m.CommitIndex) && GrantLease(m.From, m.Ballot) && wanted) Send(new HeartbeatAck(Id, m.From, m.Ballot, m.ReadContext, _log.CommitIndex));
        LearnCommit(m.Ballot, m.CommitIndex, m.From);
    }

    private void HandleRejected(Rejected m)
    {
        if (_leader is { } leader && m.Promised > leader.Ballot)
        {
            StepDown(m.Promised.ReplicaId == Id ? null : m.Promised.ReplicaId);
        }
    }

    /// <summary>A message at our promised ballot came from the leader: remember it and hold off elections.</summary>
    private void FollowLeader(long leaderId)
    {
        if (_leader is not null) return;
        _leaderHint = leaderId;
        ResetElectionTimer();
    }
}

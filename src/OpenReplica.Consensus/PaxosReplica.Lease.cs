namespace OpenReplica.Consensus;

// Leader leases: a leader serves reads without a quorum round while it knows that a quorum promised, for a bounded
// time measured on each replica's own clock, to support no other candidate. Time is an input like any other: the
// host passes its monotonic clock to SetClock; the core never reads one.
//
// Safety argument, in short. A follower that acknowledges heartbeat h of leader L at its clock t_f promises no
// candidate but L until t_f + D (its "guard"); it does not campaign itself either. L takes its lease until
// s + D - margin, where s is L's clock when it sent the newest heartbeat a quorum (of every configuration that may
// be in force in its window) acknowledged. Any later leader needs promises from a quorum that intersects that one:
// the common member is either a follower whose guard outlasts L's lease (each measured from an instant after s,
// the margin covering clock rate differences), or L itself, which steps down (and stops serving) the moment it
// promises a higher ballot. A replica restarted from disk forgot its guards: the host starts it with a guard against
// everyone (InitialLeaseGuardUntil). A configuration change voids the lease until it is chosen and re-confirmed.
public sealed partial class PaxosReplica
{
    /// <summary>Lease probes kept at most; older unacknowledged ones can only give an older (shorter) lease.</summary>
    private const int MaxLeaseProbes = 64;

    private long _clock;
    private long _guardUntil;
    private long _guardFor; // 0: nobody, i.e. a restarted replica guarding against every candidate
    private Ballot? _guardBallot; // the ballot of the heartbeat that granted the guard (a release names it)
    private Ballot? _released; // the highest ballot whose leader released its lease: its late heartbeats grant nothing
    private bool _campaignPending;

    private bool LeasesOn => _options.LeaseDuration > 0;

    /// <summary>The host's monotonic clock, in the units of <see cref="ReplicaOptions.LeaseDuration"/>. Only leases use it.</summary>
    public void SetClock(long now)
    {
        if (now > _clock) _clock = now;
    }

    /// <summary>The latest host clock given to <see cref="SetClock"/> (lease arithmetic uses it).</summary>
    public long Clock => _clock;

    /// <summary>
    /// The host clock before which this leader may serve reads locally (once its state machine reached
    /// <see cref="LeaseReadFloor"/>); <see cref="long.MinValue"/> when it holds no lease.
    /// </summary>
    public long LeaseExpiresAt
    {
        get
        {
            if (!LeasesOn || _role != ReplicaRole.Leader) return long.MinValue;
            var leader = _leader!;
            if (leader.LeaseConfigVersion != _configs.LatestFromSlot || _log.CommitIndex < leader.LeaseBlockedThrough) return long.MinValue;
            return leader.LeaseUntil;
        }
    }

    /// <summary>Whether this replica uses leases (<see cref="ReplicaOptions.LeaseDuration"/> > 0).</summary>
    public bool LeasesEnabled => LeasesOn;

    /// <summary>
    /// The host clock from which a host that serves lease reads itself should call <see cref="RenewLease"/> (half the
    /// lease gone); <see cref="long.MinValue"/> when it holds no lease.
    /// </summary>
    public long LeaseRenewalDueAt
    {
        get
        {
            long until = LeaseExpiresAt;
            return until == long.MinValue ? long.MinValue : until - RenewalLead;
        }
    }

    /// <summary>Slots that may have been chosen before this leader's ballot: a local read waits until they are applied.</summary>
    public long LeaseReadFloor => _role == ReplicaRole.Leader ? _leader!.ReadFloor : long.MaxValue;

    /// <summary>A campaign asked for while this replica still guards another leader's lease; it starts when the guard ends.</summary>
    public bool CampaignPending => _campaignPending;

    private bool HoldsLease => _clock < LeaseExpiresAt;

    /// <summary>How long before its end a lease is renewed: half of it.</summary>
    private long RenewalLead => _options.LeaseDuration / 2;

    /// <summary>Whether this replica promised (by acknowledging a lease heartbeat, or by restarting) not to support <paramref name="candidate"/> yet.</summary>
    private bool GuardsAgainst(long candidate) =>
        LeasesOn && _clock < _guardUntil && candidate != _guardFor && !Has(PlantedBug.LeaseWithoutGuard);

    private void InitLeaseGuard() => _guardUntil = _options.InitialLeaseGuardUntil;

    /// <summary>
    /// A heartbeat of <paramref name="leaderId"/> was admitted: grant or renew its lease. False when this replica
    /// must not acknowledge it, because it is about to campaign and must not lengthen a lease it will break.
    /// </summary>
    private bool GrantLease(long leaderId, Ballot ballot)
    {
        if (!LeasesOn) return true;
        if (_campaignPending) return false;
        // A heartbeat its leader sent before it resigned can arrive after the release: a host may send a step's
        // messages in two parts (before and after its fsync), and a receiver that gave up on a gap in a peer's batches
        // delivers the late batch out of order. Granting it would restore the guard that the release ended, for a
        // whole lease, with nobody left to release it (session 28).
        if (ballot == _released) return false;
        _guardFor = leaderId;
        _guardBallot = ballot;
        _guardUntil = Math.Max(_guardUntil, _clock + _options.LeaseDuration);
        return true;
    }

    /// <summary>
    /// The replicas that may have acknowledged this leader's lease probes: the members of every configuration that
    /// may be in force in its window (<see cref="NoteLeaseAck"/> counts the same ones), itself excluded.
    /// </summary>
    private HashSet<long> LeaseGrantors(LeaderState leader)
    {
        var members = new HashSet<long>();
        foreach (var config in LeaseConfigs(leader)) members.UnionWith(config.Members);
        members.UnionWith(_configs.Latest.Members);
        members.Remove(Id);
        return members;
    }

    /// <summary>Every configuration that may be in force in the leader's window: a lease needs a quorum of each.</summary>
    private IEnumerable<ClusterConfig> LeaseConfigs(LeaderState leader)
    {
        long commit = _log.CommitIndex;
        return _configs.ConfigsBetween(commit + 1, Math.Max(commit + 1, leader.NextSlot) + _options.Window);
    }

    /// <summary>Tells the replicas that may guard this (former) leader's lease at <paramref name="ballot"/> that it ended.</summary>
    private void ReleaseLease(Ballot ballot, HashSet<long> grantors)
    {
        foreach (long member in grantors) Send(new LeaseRelease(Id, member, ballot));
    }

    /// <summary>
    /// A leader that resigned on its own ended the lease it held at a ballot: a guard granted to that leader at that
    /// ballot ends now. A guard the same replica holds at a later ballot (it led again) is kept, so a late release
    /// cannot shorten a newer lease.
    /// </summary>
    private void HandleLeaseRelease(LeaseRelease m)
    {
        if (LeasesOn && m.Ballot.ReplicaId == m.From && (_released is not { } known || m.Ballot > known)) _released = m.Ballot;
        if (!LeasesOn || _guardFor != m.From || _guardBallot != m.Ballot) return;
        _guardUntil = 0;
        _guardBallot = null;
        MaybeStartPendingCampaign();
    }

    /// <summary>Starts a pending campaign once the guard it waited for has ended (checked on every tick).</summary>
    private void MaybeStartPendingCampaign()
    {
        if (_campaignPending && !GuardsAgainst(Id)) StartCampaign();
    }

    /// <summary>Gives a heartbeat round its own context and remembers when it left, so acknowledgements can grant a lease.</summary>
    private long LeaseProbeContext(LeaderState leader, long readContext)
    {
        if (!LeasesOn) return readContext;
        long context = ++leader.ReadContext;
        if (leader.LeaseProbes.Count == MaxLeaseProbes) leader.LeaseProbes.RemoveAt(0);
        leader.LeaseProbes.Add((context, _clock));
        return context;
    }

    /// <summary>Records a follower's acknowledgement and extends the lease to the newest probe a quorum acknowledged.</summary>
    private void NoteLeaseAck(LeaderState leader, long from, long context)
    {
        if (!LeasesOn || (leader.AckedContext.TryGetValue(from, out long known) && known >= context)) return;
        leader.AckedContext[from] = context;
        var configs = LeaseConfigs(leader).ToList();
        for (int i = leader.LeaseProbes.Count - 1; i >= 0; i--)
        {
            var (probe, sentAt) = leader.LeaseProbes[i];
            var voters = new HashSet<long>();
            if (VotesAbove(_log.CommitIndex)) voters.Add(Id); // below our vote floor, as for reads (ReadIndex)
            foreach (var (member, acked) in leader.AckedContext)
            {
                if (acked >= probe) voters.Add(member);
            }
            if (!configs.All(c => IsQuorum(c, voters))) continue;
            long until = sentAt + _options.LeaseDuration - _options.EffectiveLeaseMargin;
            bool sameConfigs = leader.LeaseConfigVersion == _configs.LatestFromSlot;
            leader.LeaseUntil = sameConfigs ? Math.Max(leader.LeaseUntil, until) : until;
            leader.LeaseConfigVersion = _configs.LatestFromSlot;
            leader.LeaseProbes.RemoveRange(0, i + 1);
            return;
        }
    }

    /// <summary>
    /// For hosts that serve lease reads themselves (from <see cref="LeaseExpiresAt"/>): sends a renewal round if half
    /// of the lease is gone, so that steady reads never wait for one.
    /// </summary>
    public Ready RenewLease()
    {
        if (LeasesOn && _role == ReplicaRole.Leader) RenewLeaseIfDue(_leader!);
        return TakeReady();
    }

    /// <summary>Under steady reads, renews the lease when half of it is gone, before it runs out.</summary>
    private void RenewLeaseIfDue(LeaderState leader)
    {
        bool due = _clock >= leader.LeaseUntil - RenewalLead;
        bool probing = leader.LeaseProbes.Count > 0 && leader.LeaseProbes[^1].SentAt + RenewalLead / 2 > _clock;
        if (due && !probing) BroadcastHeartbeat(leader.ReadContext);
    }
}

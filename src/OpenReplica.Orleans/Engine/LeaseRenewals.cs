namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Lease renewals that reads asked for, held for a moment so that the groups of a worker renew together, in one round
/// posted on the engine's tick. A leader renews its lease once half of it is gone
/// (<see cref="OpenReplica.Consensus.PaxosReplica.LeaseRenewalDueAt"/>), on the first read that notices. Sent at once,
/// every group's renewal is its own engine step and its own batch to each peer silo, and so are the followers'
/// acknowledgements: with 1,000 grains read steadily that was about 1,300 heartbeat rounds a second per silo and an
/// eighth of the cluster's CPU (docs/benchmarks.md, "Session 8"). Held until the next round, they share steps and
/// batches.
/// <para>
/// Safety does not depend on when a renewal leaves: a lease runs from the moment its probe was sent, so a late
/// renewal only gives a lease that ends later than it could have, and a lease that runs out before its renewal is
/// acknowledged only sends reads back to read-index rounds. A renewal is held at most a quarter of the time the lease
/// had left when renewal became due, and never when the rounds are too coarse for that (short leases: it is posted
/// at once, as before).
/// </para>
/// </summary>
internal sealed class LeaseRenewals
{
    private readonly Lock _gate = new();
    private List<GroupReplica> _held = [];
    private long _postBy = long.MaxValue; // the round at or after this clock posts every held renewal
    private long _roundMs; // the interval between rounds, learnt from the ticks; 0 until the first: renewals go at once
    private long _heldTotal;

    /// <summary>Renewals held now (diagnostics and tests).</summary>
    public int Count
    {
        get
        {
            lock (_gate) return _held.Count;
        }
    }

    /// <summary>Renewals held for a round since the start (the simulator reports it: the rounds are exercised).</summary>
    public long HeldTotal => Interlocked.Read(ref _heldTotal);

    /// <summary>
    /// Holds <paramref name="group"/>'s renewal until a round that comes no later than <paramref name="holdUntil"/>;
    /// false when no such round can be promised (no ticks yet, or too little time): the caller posts it now.
    /// </summary>
    public bool TryHold(GroupReplica group, long now, long holdUntil)
    {
        lock (_gate)
        {
            long round = _roundMs;
            if (round <= 0 || holdUntil - now < round) return false;
            _held.Add(group);
            _heldTotal++;
            _postBy = Math.Min(_postBy, holdUntil - round);
            return true;
        }
    }

    /// <summary>
    /// One round (every tick, <paramref name="roundMs"/> apart): once the earliest held renewal is due, all of them
    /// are handed back together, so they share the worker's next step; otherwise null.
    /// </summary>
    public List<GroupReplica>? TakeDue(long now, long roundMs)
    {
        lock (_gate)
        {
            _roundMs = roundMs;
            if (_held.Count == 0 || now < _postBy) return null;
            var due = _held;
            _held = [];
            _postBy = long.MaxValue;
            return due;
        }
    }
}

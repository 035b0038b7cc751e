namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The birth claims a silo granted: for each group it holds no replica of, at most one live claim (a proposed first
/// configuration and its proposer), recorded atomically with the answer that grants it, so two births of one group
/// that ask this silo see each other (<see cref="GroupBirth"/>, docs/architecture.md "Birth of a group").
/// A claim lives until it expires (<see cref="ReplicatedGrainsOptions.BirthClaimLifetime"/>), its proposer releases
/// it, or a replica of the group is created here (<see cref="Settle"/>); the table holds at most <see cref="Capacity"/>
/// claims and refuses new ones when full, so its memory follows the births of the last lifetime, not every grain ever born.
/// Claims live in memory; a graceful stop saves the live ones (<see cref="BirthClaimsFile"/>) and the restart takes
/// them back, while a silo back under the same identity after a crash grants none until the claims it may have
/// granted before have surely expired (<paramref name="grantsFrom"/>).
/// </summary>
/// <param name="clock">Monotonic milliseconds.</param>
/// <param name="lifetimeMs">How long a granted claim lives.</param>
/// <param name="grantsFrom">The clock reading before which no claim is granted (a restart with forgotten claims), or <see cref="long.MinValue"/>.</param>
internal sealed class BirthClaims(IEngineClock clock, long lifetimeMs, long grantsFrom = long.MinValue)
{
    /// <summary>The most claims held at once; beyond it new claims are refused (the proposer retries).</summary>
    public const int Capacity = 100_000;

    private const int FirstSweepAt = 1024;

    private readonly Dictionary<string, (BirthClaim Claim, long ExpiresAt)> _claims = [];
    private int _sweepAt = FirstSweepAt;
    private long _nextFullSweep = long.MinValue;
    private bool _closed;

    /// <summary>Live and expired claims held now (expired ones leave at the next sweep).</summary>
    public int Count
    {
        get { lock (_claims) return _claims.Count; }
    }

    /// <summary>Whether any claim granted here is still live (a silo that stops with none has nothing to forget).</summary>
    public bool AnyLive
    {
        get
        {
            long now = clock.Now;
            lock (_claims) return _claims.Values.Any(c => c.ExpiresAt > now);
        }
    }

    /// <summary>
    /// Grants <paramref name="claim"/> unless this silo holds a replica of the group (<see cref="BirthAnswerKind.Existing"/>:
    /// the caller answers with the replica's configuration), another proposer's live claim
    /// (<see cref="BirthAnswerKind.Claimed"/>, named in <paramref name="other"/>), or grants nothing now
    /// (<see cref="BirthAnswerKind.Refused"/>). A proposer's newer attempt replaces its own older claim. A query
    /// (<see cref="BirthClaim.Query"/>) is answered the same way but records nothing.
    /// <paramref name="holdsReplica"/> is read under the same lock <see cref="Settle"/> marks a new replica under.
    /// </summary>
    public BirthAnswerKind TryClaim(string groupId, BirthClaim claim, Func<bool> holdsReplica, out BirthClaim? other)
    {
        other = null;
        long now = clock.Now;
        lock (_claims)
        {
            if (holdsReplica()) return BirthAnswerKind.Existing;
            if (!claim.Query && (_closed || now < grantsFrom)) return BirthAnswerKind.Refused;
            if (_claims.TryGetValue(groupId, out var held) && held.ExpiresAt > now && held.Claim.Proposer != claim.Proposer)
            {
                other = held.Claim;
                return BirthAnswerKind.Claimed;
            }
            // A grant (or a proposer's repeated ask) lives a full lifetime from now: every grant a proceeding round counts
            // was made in that round, so it outlives the round (bounded well below the lifetime) by a wide margin.
            if (claim.Query) return BirthAnswerKind.Granted; // nothing held against it; a query records nothing
            if (_claims.Count >= _sweepAt || (_claims.Count >= Capacity && now >= _nextFullSweep)) Sweep(now);
            if (_claims.Count >= Capacity && !_claims.ContainsKey(groupId)) return BirthAnswerKind.Refused;
            _claims[groupId] = (claim, now + lifetimeMs);
            return BirthAnswerKind.Granted;
        }
    }

    /// <summary>Drops the proposer's claim if it is still the one of <paramref name="attempt"/>.</summary>
    public void Release(string groupId, long proposer, long attempt)
    {
        lock (_claims)
        {
            if (_claims.TryGetValue(groupId, out var held) && held.Claim.Proposer == proposer && held.Claim.Attempt == attempt) _claims.Remove(groupId);
        }
    }

    /// <summary>
    /// A replica of the group is being created here: <paramref name="markHeld"/> runs under the lock claims are
    /// granted under (from then on this silo answers with its replica), and the group's claim, no longer needed, goes.
    /// </summary>
    public void Settle(string groupId, Action markHeld)
    {
        lock (_claims)
        {
            markHeld();
            _claims.Remove(groupId);
        }
    }

    /// <summary>The live claims and the milliseconds each has left (saved by a graceful stop).</summary>
    public IReadOnlyList<(string GroupId, BirthClaim Claim, long RemainingMs)> Live()
    {
        long now = clock.Now;
        lock (_claims) return [.. _claims.Where(c => c.Value.ExpiresAt > now).Select(c => (c.Key, c.Value.Claim, c.Value.ExpiresAt - now))];
    }

    /// <summary>Takes back a claim a graceful stop saved (its remaining time restarts now: it only lives longer).</summary>
    public void Restore(string groupId, BirthClaim claim, long remainingMs)
    {
        lock (_claims) _claims[groupId] = (claim, clock.Now + Math.Clamp(remainingMs, 0, lifetimeMs));
    }

    /// <summary>Grants nothing from now on (the silo is stopping).</summary>
    public void Close()
    {
        lock (_claims) _closed = true;
    }

    private void Sweep(long now)
    {
        foreach (var (groupId, held) in _claims.ToList())
        {
            if (held.ExpiresAt <= now) _claims.Remove(groupId);
        }
        _sweepAt = Math.Max(FirstSweepAt, _claims.Count * 2);
        _nextFullSweep = now + Math.Max(1, lifetimeMs / 10); // a table full of live claims is not rescanned on every ask
    }
}

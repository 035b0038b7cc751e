namespace OpenReplica.Orleans;

/// <summary>
/// One caller session (a client, or a silo for grain-to-grain calls): a random session id, a sequence counter,
/// and the set of sequences still waiting for a reply, whose minimum is the stamp's first-unacknowledged value.
/// A call given up on (outcome unknown) stays unacknowledged for a while (<see cref="Abandon"/>), so its grain still
/// knows what became of it when asked (<see cref="CallOutcomeResolution"/>).
/// </summary>
internal sealed class CallStampSource(TimeProvider? time = null)
{
    /// <summary>At most this many abandoned stamps are held unacknowledged; older ones are let go first.</summary>
    public const int MaxAbandoned = 1024;

    private readonly TimeProvider _time = time ?? TimeProvider.System;
    // In-flight sequence -> its current attempt. The lowest one is found by advancing _lowest past sequences no
    // longer in flight: each sequence is passed once, so a call costs O(1) amortized and no allocation.
    private readonly Dictionary<long, Attempt> _inFlight = [];
    private readonly Queue<(long Sequence, long Until)> _abandoned = new(); // in sequence (and expiry) order
    private long _next;
    private long _lowest = 1; // no sequence below it is in flight
    private long _abandonedFloor = long.MaxValue; // the lowest sequence in _abandoned: recomputed when it changes (rarely), read on every call

    public Guid ClientId { get; } = Guid.NewGuid();

    /// <summary>Takes the next sequence and marks it in flight until <see cref="Complete"/>; its first attempt starts now.</summary>
    public CallStamp Begin()
    {
        long now = _time.GetTimestamp();
        lock (_inFlight)
        {
            var sequence = ++_next;
            _inFlight.Add(sequence, new Attempt(now, EndedEarly: false, StaleEnds: 0));
            return new CallStamp(ClientId, sequence, FloorLocked());
        }
    }

    /// <summary>
    /// The call ended with its outcome unknown: keep its stamp unacknowledged for <paramref name="hold"/> (bounded by
    /// <see cref="MaxAbandoned"/>), then let it go like a completed one.
    /// </summary>
    public void Abandon(CallStamp stamp, TimeSpan hold)
    {
        lock (_inFlight)
        {
            _inFlight.Remove(stamp.Sequence);
            if (hold <= TimeSpan.Zero) return;
            // Sequences are abandoned in about their order; a rare out-of-order one just keeps the floor a little lower.
            _abandoned.Enqueue((stamp.Sequence, _time.GetTimestamp() + (long)(hold.TotalSeconds * _time.TimestampFrequency)));
            while (_abandoned.Count > MaxAbandoned) _abandoned.Dequeue();
            RecomputeAbandonedFloor();
        }
    }

    /// <summary>The call has its final reply (result, application exception, or given-up retries).</summary>
    public void Complete(CallStamp stamp)
    {
        lock (_inFlight)
        {
            _inFlight.Remove(stamp.Sequence);
        }
    }

    /// <summary>A further attempt of the call is being sent now (<see cref="Begin"/> started the first).</summary>
    public void AttemptStarted(CallStamp stamp)
    {
        long now = _time.GetTimestamp();
        lock (_inFlight)
        {
            // The count of stale ends stays with the call: it sets how long its next attempts may pend.
            if (_inFlight.TryGetValue(stamp.Sequence, out var previous)) _inFlight[stamp.Sequence] = previous with { Started = now, EndedEarly = false };
        }
    }

    /// <summary>
    /// Whether <paramref name="stamp"/> is this session's call in flight whose current attempt has been pending longer
    /// than <paramref name="age"/> (any age when null); if so, the attempt is marked as ended early by this client
    /// (<see cref="TakeEndedEarly"/>): the caller is about to end it. An end for age counts against the call: from its
    /// third one on, the age an attempt may reach doubles with each, up to <see cref="MaxStaleAgeFactor"/> times
    /// <paramref name="age"/>. The first two are routing (a retry sent before every silo learnt of a death can land on
    /// the dead silo once more); after that the cluster is slow or cannot answer, and ending attempts early at the same
    /// pace only adds load (each end also makes Orleans log the "target silo unavailable" warning for the attempt).
    /// </summary>
    public bool EndEarly(CallStamp stamp, TimeSpan? age = null)
    {
        if (stamp.ClientId != ClientId) return false;
        lock (_inFlight)
        {
            if (!_inFlight.TryGetValue(stamp.Sequence, out var attempt)) return false;
            if (age is not { } older)
            {
                _inFlight[stamp.Sequence] = attempt with { EndedEarly = true };
                return true;
            }
            if (_time.GetElapsedTime(attempt.Started) <= older * StaleAgeFactor(attempt.StaleEnds)) return false;
            _inFlight[stamp.Sequence] = attempt with { EndedEarly = true, StaleEnds = attempt.StaleEnds + 1 };
            return true;
        }
    }

    /// <summary>
    /// Whether <paramref name="stamp"/> is this session's call in flight whose current attempt has been pending longer
    /// than <paramref name="age"/>. Unlike <see cref="EndEarly"/> it marks nothing.
    /// </summary>
    public bool PendingLongerThan(CallStamp stamp, TimeSpan age)
    {
        if (stamp.ClientId != ClientId) return false;
        lock (_inFlight)
        {
            return _inFlight.TryGetValue(stamp.Sequence, out var attempt) && _time.GetElapsedTime(attempt.Started) > age;
        }
    }

    /// <summary>Whether any call in flight has an attempt pending longer than <paramref name="age"/> (a cheap check before a closer look).</summary>
    public bool AnyPendingLongerThan(TimeSpan age)
    {
        long now = _time.GetTimestamp();
        lock (_inFlight)
        {
            foreach (var attempt in _inFlight.Values)
            {
                if (_time.GetElapsedTime(attempt.Started, now) > age) return true;
            }
        }
        return false;
    }

    /// <summary>How many times the base age an attempt may pend after the call's attempts were ended that often for age.</summary>
    public const int MaxStaleAgeFactor = 4;

    private static int StaleAgeFactor(int staleEnds) => Math.Min(1 << Math.Clamp(staleEnds - 1, 0, 30), MaxStaleAgeFactor);

    /// <summary>
    /// Whether the call's current attempt was ended by this client (<see cref="EndEarly"/>) rather than refused by a
    /// silo; clears the mark. Such a failure says nothing about the cluster, so its retry needs no backoff.
    /// </summary>
    public bool TakeEndedEarly(CallStamp stamp)
    {
        lock (_inFlight)
        {
            if (!_inFlight.TryGetValue(stamp.Sequence, out var attempt) || !attempt.EndedEarly) return false;
            _inFlight[stamp.Sequence] = attempt with { EndedEarly = false };
            return true;
        }
    }

    /// <summary>The lowest sequence still in flight, or the next one to be used when none is.</summary>
    public long FirstUnacknowledged
    {
        get
        {
            lock (_inFlight)
            {
                return FloorLocked();
            }
        }
    }

    private long FloorLocked()
    {
        if (_abandoned.Count > 0)
        {
            long now = _time.GetTimestamp();
            bool expired = false;
            while (_abandoned.TryPeek(out var oldest) && oldest.Until <= now)
            {
                _abandoned.Dequeue();
                expired = true;
            }
            if (expired) RecomputeAbandonedFloor();
        }
        while (_lowest <= _next && !_inFlight.ContainsKey(_lowest)) _lowest++;
        return Math.Min(_lowest, _abandonedFloor); // _next + 1 when nothing is in flight
    }

    private void RecomputeAbandonedFloor()
    {
        _abandonedFloor = long.MaxValue;
        foreach (var (sequence, _) in _abandoned) _abandonedFloor = Math.Min(_abandonedFloor, sequence);
    }

    /// <summary>
    /// When a call's current attempt was sent, whether this client ended it early, and how many of the call's attempts
    /// this client ended for their age.
    /// </summary>
    private readonly record struct Attempt(long Started, bool EndedEarly, int StaleEnds);
}

using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Restores each sender's send order on the receiving silo. One-way calls are not ordered by Orleans: while a
/// connection is being set up (or re-established) every waiting message is continued separately on the thread pool,
/// so a burst can arrive out of order (a test saw a 1,000-message burst arrive starting with message 945). Every
/// batch carries its sender loop's sequence number; a batch that arrives early is held until the ones before it
/// arrive, or until <see cref="GapWait"/> passes — a batch lost with a dropped connection never comes, and the
/// consensus protocol recovers what it carried, so waiting longer would only delay the batches behind the gap.
/// A batch that arrives after its gap was given up on is delivered at once (the protocol tolerates reordering).
/// Thread-safe: deliveries come from the replica host and the gap timer; they happen under one lock, in order.
/// </summary>
internal sealed class InOrderDelivery : IDisposable
{
    /// <summary>How long batches behind a missing one are held before the gap is given up on.</summary>
    public static readonly TimeSpan GapWait = TimeSpan.FromMilliseconds(50);

    /// <summary>At most this many batches are held per sender; past it the gap is given up on at once.</summary>
    public const int MaxHeldBatches = 1024;

    private static readonly TimeSpan ForgetIdleSender = TimeSpan.FromMinutes(5);

    private readonly Action<ReplicaEnvelope> _deliver;
    private readonly TimeProvider _time;
    private readonly Dictionary<SiloAddress, SenderStream> _streams = [];
    private readonly ITimer _gapTimer;
    private long _late;
    private long _skipped;

    public InOrderDelivery(Action<ReplicaEnvelope> deliver, TimeProvider? time = null)
    {
        _deliver = deliver;
        _time = time ?? TimeProvider.System;
        _gapTimer = _time.CreateTimer(_ => GiveUpOnOldGaps(), null, Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
    }

    /// <summary>Batches that arrived after the gap before them had been given up on (delivered out of order).</summary>
    public long Late => Interlocked.Read(ref _late);

    /// <summary>Sequence numbers given up on: batches lost on the way (or, rarely, later counted in <see cref="Late"/>).</summary>
    public long Skipped => Interlocked.Read(ref _skipped);

    public void Receive(ReplicaEnvelope batch)
    {
        if (batch.Sequence <= 0)
        {
            _deliver(batch); // a sender that does not number its batches: nothing to restore
            return;
        }

        lock (_streams)
        {
            var now = _time.GetTimestamp();
            if (!_streams.TryGetValue(batch.From, out var stream))
            {
                ForgetIdleSenders(now);
                stream = new SenderStream();
                _streams[batch.From] = stream;
            }
            stream.LastSeen = now;

            if (batch.Sequence < stream.Next)
            {
                Interlocked.Increment(ref _late);
                _deliver(batch);
                return;
            }
            if (batch.Sequence > stream.Next)
            {
                stream.Held[batch.Sequence] = batch;
                stream.HeldSince ??= now;
                if (stream.Held.Count > MaxHeldBatches) SkipGap(stream);
                else _gapTimer.Change(GapWait, Timeout.InfiniteTimeSpan);
                return;
            }
            _deliver(batch);
            stream.Next++;
            DrainConsecutive(stream, now);
        }
    }

    public void Dispose() => _gapTimer.Dispose();

    private void GiveUpOnOldGaps()
    {
        lock (_streams)
        {
            var now = _time.GetTimestamp();
            bool stillHolding = false;
            foreach (var stream in _streams.Values)
            {
                if (stream.HeldSince is { } since && _time.GetElapsedTime(since, now) >= GapWait) SkipGap(stream);
                stillHolding |= stream.Held.Count > 0;
            }
            if (stillHolding) _gapTimer.Change(GapWait, Timeout.InfiniteTimeSpan);
        }
    }

    /// <summary>Gives up on the missing batches before the first held one and delivers what follows in order.</summary>
    private void SkipGap(SenderStream stream)
    {
        long first = stream.Held.Keys.First();
        Interlocked.Add(ref _skipped, first - stream.Next);
        stream.Next = first;
        DrainConsecutive(stream, _time.GetTimestamp());
    }

    private void DrainConsecutive(SenderStream stream, long now)
    {
        while (stream.Held.Remove(stream.Next, out var next))
        {
            _deliver(next);
            stream.Next++;
        }
        stream.HeldSince = stream.Held.Count == 0 ? null : now;
    }

    /// <summary>Streams are per sender incarnation (a restarted silo has a new address): drop the ones long silent.</summary>
    private void ForgetIdleSenders(long now)
    {
        foreach (var (silo, stream) in _streams.ToList())
        {
            if (stream.Held.Count == 0 && _time.GetElapsedTime(stream.LastSeen, now) > ForgetIdleSender) _streams.Remove(silo);
        }
    }

    private sealed class SenderStream
    {
        /// <summary>Sender loops number their batches from 1.</summary>
        public long Next { get; set; } = 1;

        public SortedDictionary<long, ReplicaEnvelope> Held { get; } = [];

        /// <summary>When the current gap began to hold batches back (null: nothing held).</summary>
        public long? HeldSince { get; set; }

        public long LastSeen { get; set; }
    }
}

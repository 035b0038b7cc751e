namespace OpenReplica.Orleans;

/// <summary>
/// One caller session (a client, or a silo for grain-to-grain calls): a random session id, a sequence counter,
/// and the set of sequences still waiting for a reply, whose minimum is the stamp's first-unacknowledged value.
/// </summary>
internal sealed class CallStampSource
{
    private readonly SortedSet<long> _inFlight = [];
    private long _next;

    public Guid ClientId { get; } = Guid.NewGuid();

    /// <summary>Takes the next sequence and marks it in flight until <see cref="Complete"/>.</summary>
    public CallStamp Begin()
    {
        lock (_inFlight)
        {
            var sequence = ++_next;
            _inFlight.Add(sequence);
            return new CallStamp(ClientId, sequence, _inFlight.Min);
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

    /// <summary>The lowest sequence still in flight, or the next one to be used when none is.</summary>
    public long FirstUnacknowledged
    {
        get
        {
            lock (_inFlight)
            {
                return _inFlight.Count > 0 ? _inFlight.Min : _next + 1;
            }
        }
    }
}

using System.Collections.Concurrent;

namespace OpenReplica.Orleans;

/// <summary>
/// Read-only calls of this client that are in flight, by their request object. A read carries no stamp in its message
/// (nothing on the grain's side needs one, and a request context costs every read a copy, a header and a flow of its
/// own), so <see cref="PendingCallBreaker"/> cannot find a pending read by the stamp in its message as it finds a
/// write. It finds it here instead: Orleans' client keeps the request object as the body of the message it sent, so the
/// message's body names the read and this table gives its stamp (the filter's own name for the call: retries, early
/// ends and backoff follow it as they follow a write's).
/// </summary>
internal sealed class PendingReads
{
    private readonly ConcurrentDictionary<object, CallStamp> _byRequest = new(ReferenceEqualityComparer.Instance);

    /// <summary>Reads in flight now.</summary>
    public int Count => _byRequest.Count;

    /// <summary>The read with this request object is in flight under <paramref name="stamp"/> until <see cref="Remove"/>.</summary>
    public void Add(object request, CallStamp stamp) => _byRequest[request] = stamp;

    public void Remove(object request) => _byRequest.TryRemove(request, out _);

    /// <summary>The stamp of the read whose message carries <paramref name="body"/>, if one is in flight.</summary>
    public bool TryGet(object body, out CallStamp stamp) => _byRequest.TryGetValue(body, out stamp);
}

using Orleans.Concurrency;

namespace OpenReplica.Coordination;

/// <summary>
/// A coordination object whose holds (a lock, semaphore permits) belong to the caller's session
/// (<c>Replicated.Call.ClientId</c>: one client process that calls <c>UseReplicatedGrains()</c>, or one silo for
/// grain-to-grain calls) and are kept only while the session's lease is renewed. Any call from a holding session
/// renews its lease; <see cref="KeepAlive"/> renews and does nothing else. A hold whose lease expired (by the log's
/// clock, <c>Replicated.Now</c>, which never steps back) is released by a log entry and passed to the next waiter.
/// What a holder may rely on: its hold lasts at least until the moment it SENT the call that granted or last renewed
/// it, plus the lease duration (on its own clock, if clocks run at the same rate). The grant's reply can arrive much
/// later than that (a grain unavailable for a while), so a holder that did not renew must not assume more.
/// </summary>
public interface ILeasedGrain : IGrainWithStringKey
{
    /// <summary>Renews the caller session's lease; returns whether the session holds anything here.</summary>
    Task<bool> KeepAlive();

    /// <summary>
    /// Sets how long a hold lasts without renewal (default <see cref="CoordinationDefaults.LeaseDuration"/>). Applies
    /// from each session's next renewal or grant. Must be positive.
    /// </summary>
    Task SetLeaseDuration(TimeSpan duration);

    /// <summary>How long a hold lasts without renewal (see <see cref="SetLeaseDuration"/>).</summary>
    [ReadOnly] Task<TimeSpan> GetLeaseDuration();

    /// <summary>
    /// The caller's session id (the owner identity its holds get; <see cref="Guid.Empty"/> for an unstamped caller).
    /// Not a read: reads carry no stamp, so the grain learns who calls only from a call chosen into its log.
    /// </summary>
    Task<Guid> GetSessionId();
}

/// <summary>
/// Maintenance entry point of the coordination grains, called by the grain on itself from its expiry timer so that
/// expiring timeouts and leases goes through the log. Not meant for clients (calling it is harmless: it only applies
/// what is already due by the log's clock).
/// </summary>
public interface ICoordinationMaintenance : IGrainWithStringKey
{
    /// <summary>Answers waiters whose deadline passed and releases holds whose lease expired, by <c>Replicated.Now</c>.</summary>
    Task ExpireWaiters();
}

/// <summary>Defaults shared by the coordination grains.</summary>
public static class CoordinationDefaults
{
    /// <summary>Default lease of a session's holds.</summary>
    public static readonly TimeSpan LeaseDuration = TimeSpan.FromSeconds(30);
}

/// <summary>Raised in the callers waiting at a barrier when it is reset (Python's <c>BrokenBarrierError</c>).</summary>
[GenerateSerializer]
[Alias("OpenReplica.Coordination.BrokenBarrierException")]
public sealed class BrokenBarrierException : Exception
{
    /// <summary>A broken-barrier error with the default message.</summary>
    public BrokenBarrierException() : base("The barrier was reset while this caller was waiting.") { }

    /// <summary>A broken-barrier error with <paramref name="message"/>.</summary>
    public BrokenBarrierException(string message) : base(message) { }

    /// <summary>A broken-barrier error with <paramref name="message"/> and the error that caused it.</summary>
    public BrokenBarrierException(string message, Exception inner) : base(message, inner) { }
}

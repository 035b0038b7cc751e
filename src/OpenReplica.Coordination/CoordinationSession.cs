namespace OpenReplica.Coordination;

/// <summary>
/// Keeps the leases of this process's session alive: every <see cref="RenewEvery"/> it calls
/// <see cref="ILeasedGrain.KeepAlive"/> on each tracked object. The session identity is the process's (the client's
/// <c>UseReplicatedGrains()</c> session, or the silo's): every caller in the process shares it, and so do the holds.
/// Track the objects you acquire (<see cref="Track{T}"/>), untrack them when done. Renew well within the objects'
/// lease duration (a third of it is a good choice). Failures are counted, not thrown: a renewal that keeps failing
/// means the holds may be lost when their leases run out.
/// </summary>
public sealed class CoordinationSession : IAsyncDisposable
{
    private readonly object _gate = new();
    private readonly HashSet<ILeasedGrain> _tracked = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private long _renewals;
    private long _failures;

    /// <summary>Starts renewing every <paramref name="renewEvery"/> (positive; a third of the objects' lease is a good choice).</summary>
    public CoordinationSession(TimeSpan renewEvery)
    {
        if (renewEvery <= TimeSpan.Zero) throw new ArgumentOutOfRangeException(nameof(renewEvery), renewEvery, "The renewal period must be positive.");
        RenewEvery = renewEvery;
        _loop = Task.Run(RenewLoopAsync);
    }

    /// <summary>How often each tracked object's lease is renewed.</summary>
    public TimeSpan RenewEvery { get; }

    /// <summary>Successful KeepAlive calls so far.</summary>
    public long Renewals => Interlocked.Read(ref _renewals);

    /// <summary>Failed KeepAlive calls so far.</summary>
    public long Failures => Interlocked.Read(ref _failures);

    /// <summary>Renews <paramref name="grain"/>'s lease from now on; returns it for chaining.</summary>
    public T Track<T>(T grain) where T : ILeasedGrain
    {
        lock (_gate) _tracked.Add(grain);
        return grain;
    }

    /// <summary>Stops renewing <paramref name="grain"/>'s lease (release its holds first, or let them expire).</summary>
    public void Untrack(ILeasedGrain grain)
    {
        lock (_gate) _tracked.Remove(grain);
    }

    /// <summary>Renews every tracked object once, now.</summary>
    public async Task RenewNowAsync()
    {
        ILeasedGrain[] grains;
        lock (_gate) grains = [.. _tracked];
        await Task.WhenAll(grains.Select(async grain =>
        {
            try
            {
                await grain.KeepAlive();
                Interlocked.Increment(ref _renewals);
            }
            catch (Exception)
            {
                Interlocked.Increment(ref _failures);
            }
        }));
    }

    private async Task RenewLoopAsync()
    {
        using var timer = new PeriodicTimer(RenewEvery);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token)) await RenewNowAsync();
        }
        catch (OperationCanceledException)
        {
        }
    }

    /// <summary>Stops renewing (the holds then last until their leases run out, unless released).</summary>
    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        _stop.Dispose();
    }
}

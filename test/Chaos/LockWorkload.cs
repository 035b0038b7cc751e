using System.Collections.Concurrent;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenReplica.Coordination;
using OpenReplica.LoadTest;

namespace OpenReplica.Chaos;

/// <summary>
/// Mutual exclusion of the coordination <see cref="ILockGrain"/>: several clients — each its own Orleans client, so
/// its own lock session — acquire one lock, hold it for a moment and release it. A client believes it holds the lock
/// from the moment its acquire returned true until it invokes the release — or until the acquire's invocation plus
/// the lease, if that comes first (the lock's contract, <see cref="ILeasedGrain"/>); no two clients' holds may
/// overlap in any history. An acquire that timed out or failed is unknown: the client then releases (if it was granted after all)
/// and never counts that hold. Holds last far less than the lock's lease (set to <see cref="LockLease"/>), so only
/// a lease expired early could hand the lock on while it is held.
/// </summary>
internal sealed class LockWorkload(ProcessCluster cluster, int clients, int seed, TimeSpan callTimeout, Availability availability, Action<string> log)
    : IChaosWorkload, IAsyncDisposable
{
    public static readonly TimeSpan LockLease = TimeSpan.FromSeconds(10);
    private readonly Tally _tally = new();
    private readonly string _key = $"lock-{seed}-{Guid.NewGuid():N}"[..26];
    private readonly ConcurrentQueue<(int Client, long From, long To)> _holds = new();
    private readonly List<IHost> _hosts = [];
    private int _lateReleases; // releases this workload stopped waiting for that then succeeded (took effect late)
    private int _waitedForPending; // times a client waited for such calls before acquiring again

    public WorkloadKind Kind => WorkloadKind.Lock;

    public bool Owns(string groupId) => groupId.EndsWith("/" + _key, StringComparison.Ordinal);

    public async Task RunAsync(Stopwatch clock, CancellationToken stop)
    {
        var sessions = new List<IClusterClient>();
        for (int c = 0; c < clients; c++)
        {
            var host = new HostBuilder()
                .ConfigureLogging(l => l.ClearProviders())
                .UseOrleansClient(o =>
                {
                    o.ConfigureBenchmarkClient(cluster.GatewayPorts, cluster.ClusterId);
                    cluster.Spec.ConfigureClient?.Invoke(o);
                })
                .Build();
            _hosts.Add(host);
            await host.StartAsync(stop).WaitAsync(TimeSpan.FromSeconds(60), stop);
            sessions.Add(host.Services.GetRequiredService<IClusterClient>());
        }
        await Eventually(() => sessions[0].GetGrain<ILockGrain>(_key).SetLeaseDuration(LockLease), stop);
        log($"lock workload: {clients} sessions on lock {_key}, lease {LockLease.TotalSeconds:0} s");
        await Task.WhenAll(sessions.Select((s, c) => ClientAsync(c, s.GetGrain<ILockGrain>(_key), new Random(HashCode.Combine(seed, c, 11)), clock, stop)));
    }

    private async Task Eventually(Func<Task> call, CancellationToken stop)
    {
        for (int attempt = 0; ; attempt++)
        {
            try
            {
                await call().WaitAsync(callTimeout, stop);
                return;
            }
            catch (Exception) when (attempt < 10 && !stop.IsCancellationRequested)
            {
                await Task.Delay(500, stop);
            }
        }
    }

    /// <summary>How long a client waits for its own calls of unknown outcome to end before it acquires again (beyond
    /// the client library's 60 s call deadline, after which they have ended one way or the other).</summary>
    private static readonly TimeSpan PendingBound = TimeSpan.FromSeconds(75);

    private async Task ClientAsync(int client, ILockGrain lockGrain, Random random, Stopwatch clock, CancellationToken stop)
    {
        // Calls of this client that this loop stopped waiting for (callTimeout) but that may still take effect: the client
        // library keeps retrying them with their stamps. Such a Release, applied after a later acquire, releases that
        // later hold (the lock's owner is the session, and the two calls were concurrent): believing the later hold
        // while one is pending is the workload's mistake, not the lock's (seed 2028's KillAll and IsolateLeader cells
        // reported overlaps so). So the client waits until they end before it acquires again.
        var pending = new List<Task>();
        while (!stop.IsCancellationRequested)
        {
            if (!await SettledAsync(pending, stop)) return;
            long call = clock.ElapsedTicks;
            bool granted;
            var acquire = lockGrain.TryAcquire(TimeSpan.FromSeconds(2));
            try
            {
                granted = await acquire.WaitAsync(callTimeout);
                availability.Ok(_key, call, clock.ElapsedTicks);
                _tally.Ok();
            }
            catch (Exception)
            {
                _tally.Unknown();
                if (!acquire.IsCompleted) pending.Add(acquire);
                await ReleaseQuietly(lockGrain, clock, believed: null, pending);
                continue;
            }
            if (!granted) continue;
            long from = clock.ElapsedTicks;
            // The lock's contract (ILeasedGrain): the hold lasts at least until the acquire was sent + the lease.
            long leaseEnd = call + (long)(LockLease.TotalSeconds * Stopwatch.Frequency);
            await Task.Delay(20 + random.Next(130), CancellationToken.None);
            await ReleaseQuietly(lockGrain, clock, believed: (client, from, leaseEnd), pending);
        }
    }

    /// <summary>Waits (bounded) until every pending call has ended; false when the run stops meanwhile.</summary>
    private async Task<bool> SettledAsync(List<Task> pending, CancellationToken stop)
    {
        if (pending.Count == 0) return true;
        Interlocked.Increment(ref _waitedForPending);
        try
        {
            await Task.WhenAll(pending).ContinueWith(_ => { }, TaskScheduler.Default).WaitAsync(PendingBound, stop);
        }
        catch (OperationCanceledException)
        {
            return false;
        }
        catch (TimeoutException)
        {
            // Still running after the client's own deadline: go on (the check may then report what this wait prevents).
        }
        pending.Clear();
        return true;
    }

    /// <summary>
    /// Ends a believed hold at the release's invocation (or at its lease end, if that came first: a hold granted after a
    /// long wait), then releases (a failed release is unknown, not retried here; while it may still run it is pending).
    /// </summary>
    private async Task ReleaseQuietly(ILockGrain lockGrain, Stopwatch clock, (int Client, long From, long LeaseEnd)? believed, List<Task> pending)
    {
        long call = clock.ElapsedTicks;
        if (believed is { } hold && hold.From < hold.LeaseEnd) _holds.Enqueue((hold.Client, hold.From, Math.Min(call, hold.LeaseEnd)));
        var release = lockGrain.Release();
        try
        {
            await release.WaitAsync(callTimeout);
            availability.Ok(_key, call, clock.ElapsedTicks);
            _tally.Ok();
        }
        catch (SynchronizationLockException)
        {
            _tally.Ok(); // not the holder: the unknown acquire did not take effect (or its hold already ended)
        }
        catch (Exception)
        {
            _tally.Unknown();
            if (!release.IsCompleted)
            {
                pending.Add(release);
                _ = release.ContinueWith(t => { if (t.IsCompletedSuccessfully) Interlocked.Increment(ref _lateReleases); }, TaskScheduler.Default);
            }
            await Task.Delay(100, CancellationToken.None);
        }
    }

    public Task<ChaosCellResult> CheckAsync(TimeSpan budget)
    {
        var holds = _holds.OrderBy(h => h.From).ToList();
        var overlaps = new List<string>();
        for (int i = 0; i < holds.Count; i++)
        {
            for (int j = i + 1; j < holds.Count && holds[j].From < holds[i].To; j++)
            {
                if (holds[j].Client == holds[i].Client) continue;
                overlaps.Add(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"clients {holds[i].Client} and {holds[j].Client} both held the lock at {Seconds(holds[j].From):0.000}s (holds {Seconds(holds[i].From):0.000}–{Seconds(holds[i].To):0.000}s and {Seconds(holds[j].From):0.000}–{Seconds(holds[j].To):0.000}s)"));
            }
        }
        // Releases that took effect after the workload stopped waiting for them: each would have released a later hold
        // of its session had the client acquired again meanwhile (it waits instead).
        string late = _waitedForPending == 0 ? "" : $"; waited {_waitedForPending}x for own calls of unknown outcome, {_lateReleases} release(s) took effect late";
        string verdict = (overlaps.Count == 0 ? $"mutual exclusion ({holds.Count} holds)" : $"**two holders** ({overlaps.Count} overlaps in {holds.Count} holds)") + late;
        return Task.FromResult(_tally.Result(verdict, string.Join("; ", overlaps.Take(3))));
    }

    private static double Seconds(long ticks) => ticks / (double)Stopwatch.Frequency;

    public async ValueTask DisposeAsync()
    {
        foreach (var host in _hosts)
        {
            try { await host.StopAsync(new CancellationToken(canceled: true)).WaitAsync(TimeSpan.FromSeconds(5)); } catch { }
            host.Dispose();
        }
    }
}

using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Messaging;

namespace OpenReplica.Orleans;

/// <summary>
/// Client side (<c>UseReplicatedGrains</c>): ends pending stamped calls through <see cref="PendingCallBreaker"/> as soon
/// as the client learns that a silo may be gone, so the stamping filter retries them with the same stamp through a
/// live gateway instead of waiting for <c>ClientMessagingOptions.ResponseTimeout</c>. Four moments:
/// <list type="number">
/// <item>A gateway connection closes (the gateway's process died, the connection broke, or Orleans' gateway list
/// refresh evicted a gateway that membership declared dead).</item>
/// <item>For <see cref="ReplicatedClientOptions.CallDeadline"/> after a loss (the settling period), every
/// <see cref="SettlePollInterval"/>: an attempt pending longer than <see cref="StaleAttempt"/> is ended too. A retry sent
/// right after the loss is routed by a live gateway to the grain's old silo until every silo has learnt that it is
/// dead, and such an attempt gets no answer; the client's own gateway list may show the death before the gateways
/// act on it (a test saw exactly that), so the settling period does not trust the list alone. A slow call that was
/// doing fine costs one more retry per <see cref="StaleAttempt"/> during the period, answered from the command in
/// flight; a call ended that way more than twice may pend longer each time (up to four times as long,
/// <see cref="CallStampSource.EndEarly"/>), so a cluster that cannot answer at all is not asked again twice a second
/// by every pending call. Once the gateway list drops a gateway (a graceful stop takes the silo off the list before it closes its
/// connections; a crash, once membership declares it dead), every pending call is ended once more, and the settling
/// period ends <see cref="AfterDropGrace"/> later: the silos read the same membership and stop routing to the silo within
/// about a probe period, after which a slow attempt is just slow. (Without a list that changes, e.g. a static gateway
/// list, the period lasts its full length.)</item>
/// <item>Membership drops a gateway from the list while its connection is still open: a graceful stop, whose silo
/// keeps its connections until the end of Orleans' shutdown, after its grains were handed over
/// (<see cref="GatewayListDrops"/>, seen at the client's own gateway-list refresh).</item>
/// <item>A gateway goes silent: its connection stays open but a probe through it goes unanswered
/// (<see cref="SilentGatewayWatch"/>). Handled as a lost connection: ended at once, then the settling period.</item>
/// </list>
/// All of this process's pending stamped calls are ended each time, not only those sent through the lost gateway: a
/// client does not know which silo runs a grain, and a call sent through a live gateway to a grain on the dead silo
/// waits as long. Ending a call that was doing fine costs one retry, which the grain answers from the command in flight
/// or from its reply table (the stamp makes any early retry safe); the late first answer is dropped by Orleans.
/// </summary>
internal sealed partial class GatewayLossWatch : IClusterConnectionStatusObserver, IDisposable
{
    private readonly IServiceProvider services;
    private readonly IOptions<ReplicatedClientOptions> options;
    private readonly ILogger<GatewayLossWatch> logger;
    private readonly GatewayListDrops _listDrops;

    public GatewayLossWatch(IServiceProvider services, IOptions<ReplicatedClientOptions> options, ILogger<GatewayLossWatch> logger)
    {
        (this.services, this.options, this.logger) = (services, options, logger);
        _parts = new(() => (services.GetRequiredService<PendingCallBreaker>(), services.GetRequiredService<CallStampSource>()));
        _listDrops = new GatewayListDrops(() => GatewayListDrops.GatewayManagerOf(services), OnListDropped);
    }

    /// <summary>How often pending attempts and the gateway list are checked while settling after a gateway loss.</summary>
    public static readonly TimeSpan SettlePollInterval = TimeSpan.FromMilliseconds(250);

    /// <summary>
    /// While settling, an attempt pending longer than this is ended and retried with its stamp (longer for a call whose
    /// attempts were ended that way more than twice).
    /// </summary>
    public static readonly TimeSpan StaleAttempt = TimeSpan.FromMilliseconds(500);

    /// <summary>How long the settling period lasts after the gateway list dropped a gateway.</summary>
    public static readonly TimeSpan AfterDropGrace = TimeSpan.FromSeconds(5);

    private readonly Lazy<(PendingCallBreaker Breaker, CallStampSource Stamps)> _parts;

    // Settling state, under _lock (losses are rare): until when (Environment.TickCount64 in ms; each loss extends it),
    // the losses since the period began, and the gateways the list dropped meanwhile.
    private readonly Lock _lock = new();
    private bool _settling;
    private long _settleUntil;
    private int _losses;
    private readonly HashSet<Uri> _dropped = [];
    private HashSet<Uri>? _knownGateways; // the gateway list as last read: a drop is seen against it

    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        if (currentNumberOfGateways < previousNumberOfGateways) OnGatewayLost($"a gateway connection closed, {currentNumberOfGateways} left");
        // A new gateway (rare): read the list, so that the next loss can tell whether membership had already dropped
        // the gateway (a graceful stop) rather than compare against a list read after it.
        else if (currentNumberOfGateways > previousNumberOfGateways) _ = Task.Run(ReadGatewaysAsync);
    }

    public void NotifyClusterConnectionLost() => OnGatewayLost("no gateway connection left");

    /// <summary>A gateway's connection is open but carries nothing (<see cref="SilentGatewayWatch"/>): as if it were lost.</summary>
    public void OnGatewaySilent(string why) => OnGatewayLost(why);

    /// <summary>
    /// Membership no longer lists these gateways (seen at the client's gateway-list refresh). Outside a settling period
    /// this is a graceful stop: the silo handed its grains over and goes on with Orleans' shutdown while its gateway
    /// connections stay open, and a call that entered through it may get no answer until they close. Every pending
    /// stamped call is ended once and retried through a listed gateway. (While settling, the settling loop reads the
    /// list itself and does the same.)
    /// </summary>
    private void OnListDropped(IReadOnlyList<System.Net.IPEndPoint> dropped)
    {
        lock (_lock)
        {
            if (_settling) return;
        }
        string gateways = string.Join(", ", dropped);
        _ = Task.Run(() => BreakPendingCalls($"membership dropped gateway {gateways} from the gateway list (the silo is stopping or was declared dead)", stale: false));
    }

    public void Dispose() => _listDrops.Dispose();

    private void OnGatewayLost(string why)
    {
        // Called on the connection's own thread as it closes: do the work elsewhere.
        _ = Task.Run(() => BreakPendingCalls(why, stale: false));
        lock (_lock)
        {
            _settleUntil = Environment.TickCount64 + (long)options.Value.CallDeadline.TotalMilliseconds;
            _losses++;
            if (_settling) return;
            _settling = true;
        }
        _ = Task.Run(SettleAsync);
    }

    private void BreakPendingCalls(string why, bool stale)
    {
        try
        {
            var (breaker, stamps) = _parts.Value;
            int broken = stale
                ? breaker.Break(stamp => stamps.EndEarly(stamp, StaleAttempt))
                : breaker.Break(stamp => stamps.EndEarly(stamp));
            if (broken > 0) LogBroken(logger, broken, why);
        }
        catch (ObjectDisposedException)
        {
            StopSettling(); // the client is shutting down (its connections close as it stops): nothing is left to retry
        }
        catch (Exception exception)
        {
            LogBreakFailed(logger, exception);
        }
    }

    /// <summary>
    /// The settling period after a loss: ends stale attempts, and every pending call once when the gateway list drops
    /// a gateway; lasts until <see cref="_settleUntil"/> (extended by further losses, shortened to
    /// <see cref="AfterDropGrace"/> once the list has dropped as many gateways as connections were lost).
    /// </summary>
    private async Task SettleAsync()
    {
        while (true)
        {
            lock (_lock)
            {
                if (Environment.TickCount64 >= _settleUntil)
                {
                    // Ended under the lock: a loss from now on starts a new period.
                    (_settling, _losses) = (false, 0);
                    _dropped.Clear();
                    return;
                }
            }
            await Task.Delay(SettlePollInterval);
            BreakPendingCalls($"an attempt was pending more than {StaleAttempt.TotalSeconds:0.#} s after a gateway loss", stale: true);
            var previous = _knownGateways;
            if (await ReadGatewaysAsync() is not { } current || previous is null) continue;
            var dropped = previous.Where(gateway => !current.Contains(gateway)).ToList();
            if (dropped.Count == 0) continue;
            BreakPendingCalls("membership dropped a gateway from the gateway list", stale: false);
            lock (_lock)
            {
                _dropped.UnionWith(dropped);
                // Only once the list has dropped as many gateways as connections were lost: another loss may be a
                // crash that membership has not declared yet.
                if (_dropped.Count >= _losses)
                {
                    _settleUntil = Math.Min(_settleUntil, Environment.TickCount64 + (long)AfterDropGrace.TotalMilliseconds);
                }
            }
        }
    }

    /// <summary>Ends the settling period at its next check (the client is shutting down).</summary>
    private void StopSettling()
    {
        lock (_lock) _settleUntil = 0;
    }

    /// <summary>Reads the gateway list and remembers it; null when there is no list provider or it cannot be read now.</summary>
    private async Task<HashSet<Uri>?> ReadGatewaysAsync()
    {
        if (services.GetService<IGatewayListProvider>() is not { } provider) return null;
        try
        {
            var current = (await provider.GetGateways()).ToHashSet();
            _knownGateways = current;
            return current;
        }
        catch (ObjectDisposedException)
        {
            StopSettling(); // the client is shutting down
            return null;
        }
        catch (Exception exception)
        {
            LogListFailed(logger, exception.Message); // the membership store may be down with the silos: poll on
            return null;
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} pending replicated calls are retried now with their stamps: {Why}")]
    private static partial void LogBroken(ILogger logger, int count, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not end the pending replicated calls after a gateway was lost; they are retried after the response timeout")]
    private static partial void LogBreakFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Reading the gateway list after a gateway loss failed: {Reason}")]
    private static partial void LogListFailed(ILogger logger, string reason);
}

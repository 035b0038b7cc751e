using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Messaging;

namespace OpenReplica.Orleans;

/// <summary>
/// Client side (<c>UseReplicatedGrains</c>): ends pending stamped calls through <see cref="PendingCallBreaker"/> as soon
/// as the client learns that a silo may be gone, so the stamping filter retries them with the same stamp through a
/// live gateway instead of waiting for <c>ClientMessagingOptions.ResponseTimeout</c>. Two moments:
/// <list type="number">
/// <item>A gateway connection closes (the gateway's process died, the connection broke, or Orleans' gateway list
/// refresh evicted a gateway that membership declared dead).</item>
/// <item>After such a loss, the gateway list (<see cref="IGatewayListProvider"/>, read from the membership table every
/// <see cref="SettlePollInterval"/> for at most <see cref="ReplicatedClientOptions.CallDeadline"/>) drops a gateway:
/// membership has declared that silo dead, its grains are being activated elsewhere, and an attempt that was sent
/// between the loss and the declaration (routed by a live gateway to the dead silo, which the gateway had not yet
/// given up on) gets no answer. The poll stops at the first drop.</item>
/// </list>
/// All of this process's pending stamped calls are ended each time, not only those sent through the lost gateway: a
/// client does not know which silo runs a grain, and a call sent through a live gateway to a grain on the dead silo
/// waits as long. Ending a call that was doing fine costs one retry, which the grain answers from the command in flight
/// or from its reply table (the stamp makes any early retry safe); the late first answer is dropped by Orleans.
/// </summary>
internal sealed partial class GatewayLossWatch(IServiceProvider services, IOptions<ReplicatedClientOptions> options, ILogger<GatewayLossWatch> logger)
    : IClusterConnectionStatusObserver
{
    /// <summary>How often the gateway list is read after a gateway connection was lost, until it drops a gateway.</summary>
    public static readonly TimeSpan SettlePollInterval = TimeSpan.FromMilliseconds(250);

    private readonly Lazy<(PendingCallBreaker Breaker, CallStampSource Stamps)> _parts = new(() =>
        (services.GetRequiredService<PendingCallBreaker>(), services.GetRequiredService<CallStampSource>()));

    private int _settling;

    public void NotifyGatewayCountChanged(int currentNumberOfGateways, int previousNumberOfGateways, bool connectionRecovered)
    {
        if (currentNumberOfGateways < previousNumberOfGateways) OnGatewayLost($"a gateway connection closed, {currentNumberOfGateways} left");
    }

    public void NotifyClusterConnectionLost() => OnGatewayLost("no gateway connection left");

    private void OnGatewayLost(string why)
    {
        // Called on the connection's own thread as it closes: do the work elsewhere.
        _ = Task.Run(() => BreakPendingCalls(why));
        if (Interlocked.CompareExchange(ref _settling, 1, 0) == 0)
        {
            _ = Task.Run(WatchGatewayListAsync);
        }
    }

    private void BreakPendingCalls(string why)
    {
        try
        {
            var (breaker, stamps) = _parts.Value;
            int broken = breaker.Break(stamp => stamp.ClientId == stamps.ClientId);
            if (broken > 0) LogBroken(logger, broken, why);
        }
        catch (ObjectDisposedException)
        {
            // The client is shutting down (its connections close as it stops): there is nothing left to retry.
        }
        catch (Exception exception)
        {
            LogBreakFailed(logger, exception);
        }
    }

    /// <summary>Reads the gateway list until a gateway listed before is gone (then ends pending calls once more), bounded in time.</summary>
    private async Task WatchGatewayListAsync()
    {
        try
        {
            if (services.GetService<IGatewayListProvider>() is not { } provider) return;
            var stopAt = DateTime.UtcNow + options.Value.CallDeadline;
            HashSet<Uri>? previous = null;
            while (DateTime.UtcNow < stopAt)
            {
                try
                {
                    var current = (await provider.GetGateways()).ToHashSet();
                    if (previous is not null && previous.Any(gateway => !current.Contains(gateway)))
                    {
                        BreakPendingCalls("membership dropped a gateway from the gateway list");
                        return;
                    }

                    previous = current;
                }
                catch (ObjectDisposedException)
                {
                    return; // the client is shutting down
                }
                catch (Exception exception)
                {
                    LogListFailed(logger, exception.Message); // the membership store may be down with the silos: poll on
                }

                await Task.Delay(SettlePollInterval);
            }
        }
        finally
        {
            Volatile.Write(ref _settling, 0);
        }
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "{Count} pending replicated calls are retried now with their stamps: {Why}")]
    private static partial void LogBroken(ILogger logger, int count, string why);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not end the pending replicated calls after a gateway was lost; they are retried after the response timeout")]
    private static partial void LogBreakFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Reading the gateway list after a gateway loss failed: {Reason}")]
    private static partial void LogListFailed(ILogger logger, string reason);
}

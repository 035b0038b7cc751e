using System.Collections.Concurrent;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Client side (<c>UseReplicatedGrains</c>): finds gateways that have gone silent and moves the calls waiting on them
/// to other gateways, with their stamps.
/// <para>
/// Why: the Orleans client sends all calls for a grain through one gateway, chosen per bucket of grains, and keeps it
/// while the connection is open. When a network drops a gateway's traffic without closing the connection (a failed
/// link, a firewall, a middlebox that lost the flow) or the gateway hangs, the silo stays alive and listed in
/// membership, nothing closes, and every call routed there waits for Orleans' <c>ResponseTimeout</c> (30 s), is retried
/// through the same connection, and ends as <see cref="CallOutcomeUnknownException"/> at its deadline — for as long as
/// the cut lasts, for a third of the grains of a three-silo cluster (measured: calls held 55 s by a 35 s cut, then
/// released by TCP's retransmission). <see cref="GatewayLossWatch"/> cannot see it: no connection closes.
/// </para>
/// <para>
/// How: every <see cref="Tick"/>, while some stamped call (or read) has an attempt pending longer than
/// <see cref="ReplicatedClientOptions.GatewayProbeAfter"/>, the gateways those attempts went through are probed
/// (<see cref="GatewayProbe"/>: the gateway's own silo answers through the same connection), at most once per
/// <c>GatewayProbeAfter</c> per gateway. A probe answered within <see cref="ReplicatedClientOptions.GatewayProbeTimeout"/>
/// means the calls are slow for another reason (a failover, a long method), which other parts handle. An unanswered
/// one makes the gateway silent: Orleans' client stops sending through it (<see cref="GatewayAvoidance"/>, until its
/// gateway list is refreshed after its staleness bound; if the gateway is still silent then, the next stalled call finds
/// it again), and the client handles it as a lost gateway (<see cref="GatewayLossWatch"/>): every pending stamped call
/// is ended and retried at once through another gateway, and attempts that stay pending are retried again while the
/// cluster settles. All of them, not only those sent through the silent gateway: the silent gateway's silo answers
/// for its activations through its own connection to this client, whichever gateway a call came in through, until it
/// closes that connection (<see cref="ReplicatedGrainsOptions.GatewaySendTimeout"/>). A retry is always safe: the grain
/// answers it from the command in flight or its reply table. Long calls that are doing fine (a lock waiter, say) cost
/// one probe message per gateway per <c>GatewayProbeAfter</c>.
/// </para>
/// </summary>
internal sealed partial class SilentGatewayWatch(
    IServiceProvider services,
    IOptions<ReplicatedClientOptions> options,
    Diagnostics.ReplicationInstruments instruments,
    ILogger<SilentGatewayWatch> logger) : ILifecycleParticipant<IClusterClientLifecycle>, IDisposable
{
    /// <summary>How often pending attempts are looked at.</summary>
    public static readonly TimeSpan Tick = TimeSpan.FromMilliseconds(500);

    /// <summary>
    /// A gateway found silent again within this long of the last warning about it is logged at Debug: with no other
    /// gateway to go to (one gateway, or all of them cut off), the same silence is found every few seconds.
    /// </summary>
    public static readonly TimeSpan WarnAgainAfter = TimeSpan.FromMinutes(1);

    private readonly CancellationTokenSource _stop = new();
    // Environment.TickCount64 of each gateway's last probe answer, and of the last warning that it was silent.
    private readonly ConcurrentDictionary<SiloAddress, long> _answeredAt = new();
    private readonly ConcurrentDictionary<SiloAddress, long> _warnedAt = new();
    private readonly ConcurrentDictionary<SiloAddress, bool> _probing = new();
    private Task? _loop;
    private long _silenced;
    private int _disposed;

    /// <summary>Gateways found silent so far (each time one was, it was avoided and its calls retried elsewhere).</summary>
    public long Silenced => Interlocked.Read(ref _silenced);

    /// <summary>Null while the watch runs or may run; otherwise why it is off.</summary>
    public string? DisabledReason { get; private set; }

    public void Participate(IClusterClientLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(SilentGatewayWatch), ServiceLifecycleStage.Active, OnStartAsync, OnStopAsync);

    private Task OnStartAsync(CancellationToken cancellationToken)
    {
        if (options.Value.GatewayProbeAfter <= TimeSpan.Zero)
        {
            DisabledReason = $"{nameof(ReplicatedClientOptions)}.{nameof(ReplicatedClientOptions.GatewayProbeAfter)} is zero";
            return Task.CompletedTask;
        }
        var breaker = services.GetRequiredService<PendingCallBreaker>();
        var probe = GatewayProbe.Create(services.GetRequiredService<IGrainFactory>());
        var avoidance = GatewayAvoidance.Create(services);
        DisabledReason = breaker.DisabledReason ?? probe.DisabledReason ?? avoidance.DisabledReason;
        if (DisabledReason is not null)
        {
            LogOff(logger, DisabledReason);
            return Task.CompletedTask;
        }
        var loss = services.GetServices<IClusterConnectionStatusObserver>().OfType<GatewayLossWatch>().Single();
        _loop = Task.Run(() => RunAsync(breaker, services.GetRequiredService<CallStampSource>(), probe, avoidance, loss));
        return Task.CompletedTask;
    }

    private async Task OnStopAsync(CancellationToken cancellationToken)
    {
        if (Volatile.Read(ref _disposed) == 0) await _stop.CancelAsync();
        if (_loop is { } loop) await loop.WaitAsync(cancellationToken).ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    // The container may dispose this twice (it is registered as itself and as a lifecycle participant).
    public void Dispose()
    {
        if (Interlocked.Exchange(ref _disposed, 1) != 0) return;
        _stop.Cancel();
        _stop.Dispose();
    }

    private async Task RunAsync(PendingCallBreaker breaker, CallStampSource stamps, GatewayProbe probe, GatewayAvoidance avoidance, GatewayLossWatch loss)
    {
        using var timer = new PeriodicTimer(Tick);
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                try
                {
                    ProbeStalledGateways(breaker, stamps, probe, avoidance, loss);
                }
                catch (Exception exception) when (exception is not (OperationCanceledException or ObjectDisposedException))
                {
                    LogCheckFailed(logger, exception); // the next tick looks again
                }
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
            // The client is stopping.
        }
        catch (ObjectDisposedException)
        {
            // The client's services are gone.
        }
    }

    /// <summary>Probes each gateway a call has waited on longer than <c>GatewayProbeAfter</c>, unless it answered lately.</summary>
    private void ProbeStalledGateways(PendingCallBreaker breaker, CallStampSource stamps, GatewayProbe probe, GatewayAvoidance avoidance, GatewayLossWatch loss)
    {
        var after = options.Value.GatewayProbeAfter;
        if (!stamps.AnyPendingLongerThan(after)) return;
        long now = Environment.TickCount64;
        foreach (var gateway in breaker.SentThrough(stamp => stamps.PendingLongerThan(stamp, after)))
        {
            // Answered lately: the calls there are slow for another reason, and the gateway carries traffic.
            if (Within(_answeredAt, gateway, now, after)) continue;
            if (!_probing.TryAdd(gateway, true)) continue;
            _ = ProbeAsync(gateway, probe, avoidance, loss);
        }
    }

    private async Task ProbeAsync(SiloAddress gateway, GatewayProbe probe, GatewayAvoidance avoidance, GatewayLossWatch loss)
    {
        try
        {
            var timeout = options.Value.GatewayProbeTimeout;
            if (await probe.AnswersAsync(gateway, timeout))
            {
                _answeredAt[gateway] = Environment.TickCount64;
                return;
            }
            avoidance.Avoid(gateway);
            Interlocked.Increment(ref _silenced);
            instruments.GatewaySilent();
            long now = Environment.TickCount64;
            if (Within(_warnedAt, gateway, now, WarnAgainAfter))
            {
                LogSilentAgain(logger, gateway);
            }
            else
            {
                _warnedAt[gateway] = now;
                LogSilent(logger, gateway, options.Value.GatewayProbeAfter.TotalSeconds, timeout.TotalSeconds);
            }
            loss.OnGatewaySilent($"gateway {gateway} is silent (no answer to a probe within {timeout.TotalSeconds:0.#} s)");
        }
        catch (Exception exception) when (exception is not OutOfMemoryException)
        {
            LogProbeFailed(logger, gateway, exception);
        }
        finally
        {
            _probing.TryRemove(gateway, out _);
        }
    }

    /// <summary>Whether <paramref name="at"/> holds a time for <paramref name="gateway"/> less than <paramref name="window"/> before <paramref name="now"/>.</summary>
    private static bool Within(ConcurrentDictionary<SiloAddress, long> at, SiloAddress gateway, long now, TimeSpan window) =>
        at.TryGetValue(gateway, out long then) && now - then < (long)window.TotalMilliseconds;

    [LoggerMessage(Level = LogLevel.Warning, Message = "Gateway {Gateway} is silent: calls waited on it more than {After} s and it did not answer a probe within {Timeout} s. This client stops sending through it until Orleans refreshes its gateway list, and retries its pending replicated calls through other gateways with their stamps")]
    private static partial void LogSilent(ILogger logger, SiloAddress gateway, double after, double timeout);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Gateway {Gateway} is still silent; pending replicated calls are retried again")]
    private static partial void LogSilentAgain(ILogger logger, SiloAddress gateway);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Looking for silent gateways failed; the next check tries again")]
    private static partial void LogCheckFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Probing gateway {Gateway} failed")]
    private static partial void LogProbeFailed(ILogger logger, SiloAddress gateway, Exception exception);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Silent gateways are not detected ({Reason}): calls through a gateway whose traffic is lost wait for ClientMessagingOptions.ResponseTimeout")]
    private static partial void LogOff(ILogger logger, string reason);
}

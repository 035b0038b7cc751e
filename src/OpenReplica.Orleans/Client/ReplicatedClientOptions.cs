using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Retry of stamped calls to replicated grains (<c>UseReplicatedGrains</c> on clients; also used by silos for
/// grain-to-grain calls). A call whose outcome is unknown after a failure (connection lost, gateway or silo gone,
/// timeout, replica unavailable) is retried with the same stamp, with backoff and jitter, until it is answered or
/// <see cref="CallDeadline"/> has passed since it began; then the caller gets <see cref="CallOutcomeUnknownException"/>.
/// </summary>
public sealed class ReplicatedClientOptions
{
    /// <summary>No cap on the number of retries: <see cref="CallDeadline"/> alone bounds a call.</summary>
    public const int Unlimited = int.MaxValue;

    /// <summary>Default for <see cref="MaxRetries"/>: no limit (the deadline ends retrying).</summary>
    public const int DefaultMaxRetries = Unlimited;
    /// <summary>Default for <see cref="CallDeadline"/>.</summary>
    public static readonly TimeSpan DefaultCallDeadline = TimeSpan.FromSeconds(60);
    /// <summary>Default for <see cref="InitialBackoff"/>.</summary>
    public static readonly TimeSpan DefaultInitialBackoff = TimeSpan.FromMilliseconds(50);
    /// <summary>Default for <see cref="MaxBackoff"/>.</summary>
    public static readonly TimeSpan DefaultMaxBackoff = TimeSpan.FromMilliseconds(500);
    /// <summary>Default for <see cref="OutcomeResolutionWindow"/>.</summary>
    public static readonly TimeSpan DefaultOutcomeResolutionWindow = TimeSpan.FromMinutes(5);
    /// <summary>Default for <see cref="GatewayProbeAfter"/>.</summary>
    public static readonly TimeSpan DefaultGatewayProbeAfter = TimeSpan.FromSeconds(2);
    /// <summary>Default for <see cref="GatewayProbeTimeout"/>.</summary>
    public static readonly TimeSpan DefaultGatewayProbeTimeout = TimeSpan.FromSeconds(2);

    /// <summary>
    /// How long a call may take in all, its retries included; then it fails with
    /// <see cref="CallOutcomeUnknownException"/>. Long enough by default (60 s) to ride out a whole-cluster restart.
    /// An attempt still in flight at the deadline is abandoned on clients; on silos it ends by Orleans' own
    /// response timeout.
    /// </summary>
    public TimeSpan CallDeadline { get; set; } = DefaultCallDeadline;

    /// <summary>An optional cap on retries after the first attempt; by default none (<see cref="Unlimited"/>).</summary>
    public int MaxRetries { get; set; } = DefaultMaxRetries;

    /// <summary>
    /// Wait before the first retry; doubled for each further one, up to <see cref="MaxBackoff"/>. Each wait is drawn
    /// at random between half and all of that value (jitter), so callers of a failed silo do not retry in lockstep.
    /// </summary>
    public TimeSpan InitialBackoff { get; set; } = DefaultInitialBackoff;

    /// <summary>
    /// The longest wait between two attempts. It bounds how late a call notices that its grain serves again after
    /// a failover (the default 500 ms keeps that well under a second).
    /// </summary>
    public TimeSpan MaxBackoff { get; set; } = DefaultMaxBackoff;

    /// <summary>
    /// How long after a call ended with <see cref="CallOutcomeUnknownException"/> its stamp stays unacknowledged, so the
    /// grains keep what they know about it and <see cref="CallOutcomeResolution.ResolveAsync"/> can answer Applied or
    /// NotApplied (after it, the answer may be Forgotten). Meanwhile grains this process calls keep up to 4,096 replies
    /// of its calls (their reply tables cannot drop the ones after the abandoned stamp). Zero: acknowledge at once.
    /// </summary>
    public TimeSpan OutcomeResolutionWindow { get; set; } = DefaultOutcomeResolutionWindow;

    /// <summary>
    /// Clients: a call pending this long through one gateway makes the client probe that gateway (a message to the
    /// gateway's own silo through the same connection). A gateway that does not answer within
    /// <see cref="GatewayProbeTimeout"/> is silent (a network that drops its traffic without closing the connection, or
    /// a hung gateway): the client stops sending through it, and its pending calls are retried at once through another
    /// gateway with their stamps. A probe that is answered means the calls are just slow; nothing else happens. Zero: off
    /// (such calls then wait for Orleans' <c>ResponseTimeout</c>).
    /// </summary>
    public TimeSpan GatewayProbeAfter { get; set; } = DefaultGatewayProbeAfter;

    /// <summary>How long a gateway probe (<see cref="GatewayProbeAfter"/>) may take before the gateway counts as silent.</summary>
    public TimeSpan GatewayProbeTimeout { get; set; } = DefaultGatewayProbeTimeout;
}

/// <summary>Validates <see cref="ReplicatedClientOptions"/> at start-up; each message names the option.</summary>
internal sealed class ReplicatedClientOptionsValidator(IOptions<ReplicatedClientOptions> options) : IConfigurationValidator
{
    public void ValidateConfiguration()
    {
        var o = options.Value;
        const string Prefix = nameof(ReplicatedClientOptions) + ".";
        if (o.CallDeadline <= TimeSpan.Zero || o.CallDeadline == Timeout.InfiniteTimeSpan)
        {
            throw new OrleansConfigurationException($"{Prefix}{nameof(o.CallDeadline)} is {o.CallDeadline}; it must be positive and finite.");
        }

        if (o.MaxRetries < 0)
        {
            throw new OrleansConfigurationException($"{Prefix}{nameof(o.MaxRetries)} is {o.MaxRetries}; it must be 0 or more.");
        }

        if (o.InitialBackoff <= TimeSpan.Zero || o.MaxBackoff < o.InitialBackoff)
        {
            throw new OrleansConfigurationException(
                $"{Prefix}{nameof(o.InitialBackoff)} ({o.InitialBackoff}) must be positive and at most {Prefix}{nameof(o.MaxBackoff)} ({o.MaxBackoff}).");
        }

        if (o.OutcomeResolutionWindow < TimeSpan.Zero || o.OutcomeResolutionWindow == Timeout.InfiniteTimeSpan)
        {
            throw new OrleansConfigurationException($"{Prefix}{nameof(o.OutcomeResolutionWindow)} is {o.OutcomeResolutionWindow}; it must be zero or positive and finite.");
        }

        if (o.GatewayProbeAfter < TimeSpan.Zero || o.GatewayProbeAfter == Timeout.InfiniteTimeSpan)
        {
            throw new OrleansConfigurationException($"{Prefix}{nameof(o.GatewayProbeAfter)} is {o.GatewayProbeAfter}; it must be zero (off) or positive and finite.");
        }

        if (o.GatewayProbeTimeout <= TimeSpan.Zero || o.GatewayProbeTimeout == Timeout.InfiniteTimeSpan)
        {
            throw new OrleansConfigurationException($"{Prefix}{nameof(o.GatewayProbeTimeout)} is {o.GatewayProbeTimeout}; it must be positive and finite.");
        }

        if (o.MaxBackoff >= o.CallDeadline)
        {
            throw new OrleansConfigurationException(
                $"{Prefix}{nameof(o.MaxBackoff)} ({o.MaxBackoff}) must be shorter than {Prefix}{nameof(o.CallDeadline)} ({o.CallDeadline}).");
        }
    }
}

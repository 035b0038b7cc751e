using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The silo's side of divergence detection: how often activations write checkpoints, and the loud part — an error
/// log with grain, slot and both digests, and a counter — when one finds a mismatch. One per silo.
/// </summary>
internal sealed partial class DivergenceMonitor
{
    public const string MeterName = "OpenReplica.Orleans";
    public const string DivergencesInstrument = "openreplica-grain-divergences";

    private readonly ILogger<DivergenceMonitor> _logger;
    private readonly Counter<long> _divergences;

    public DivergenceMonitor(IOptions<ReplicatedGrainsOptions> options, ILogger<DivergenceMonitor> logger, IMeterFactory meters)
    {
        _logger = logger;
        DigestEveryCommands = options.Value.DigestEveryCommands;
        _divergences = meters.Create(MeterName).CreateCounter<long>(DivergencesInstrument, unit: "{divergence}",
            description: "Replicated grains whose state, rebuilt from the log, differs from the digest recorded at the same point");
    }

    /// <summary>See <see cref="ReplicatedGrainsOptions.DigestEveryCommands"/>; 0: only snapshots carry a digest.</summary>
    public int DigestEveryCommands { get; }

    public DivergenceDetector Track(GrainId grain, Func<ulong> digest) => new(grain, this, digest);

    public void Detected(DivergenceReport report)
    {
        _divergences.Add(1, new KeyValuePair<string, object?>("source", report.Source.ToString()));
        LogDiverged(_logger, report.Grain, report.Slot, report.Position, report.ExpectedDigest, report.ActualDigest, report.Source);
    }

    public void DigestFailed(GrainId grain, Exception exception) => LogDigestFailed(_logger, exception, grain.ToString());

    public void Accepted(DivergenceReport report, string reason) => LogAccepted(_logger, report.Grain, report.Slot, reason);

    [LoggerMessage(Level = LogLevel.Critical, Message = "DIVERGENCE: grain {Grain} at slot {Slot} (position {Position}): state digest {Expected:x16} was recorded ({Source}) but replay gives {Actual:x16}. A replicated method is not deterministic; the grain refuses calls until an operator decides (docs/determinism.md#when-a-grain-diverges)")]
    private static partial void LogDiverged(ILogger logger, string grain, long slot, long position, ulong expected, ulong actual, DivergenceSource source);

    [LoggerMessage(Level = LogLevel.Warning, Message = "The state of grain {Grain} could not be digested; its divergence checks are skipped")]
    private static partial void LogDigestFailed(ILogger logger, Exception exception, string grain);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Divergence of grain {Grain} at slot {Slot} accepted by an operator: {Reason}; the replayed state is kept and the grain serves again")]
    private static partial void LogAccepted(ILogger logger, string grain, long slot, string reason);
}

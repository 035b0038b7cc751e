using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenReplica.Orleans;
using OpenReplica.Storage;
using OpenReplica.Testing;
using Orleans.Configuration;

namespace OpenReplica.Chaos;

/// <summary>Orleans membership settings a chaos run uses (the issue asks for both).</summary>
public enum MembershipSettings
{
    /// <summary>
    /// samples/Deploy's <c>--fast-failure-detection true --detect-pauses true</c>: 1 s probes × 3 misses, 2 votes, indirect
    /// probes, the connection liveness check and the probe-timeout extension off, so a paused silo is declared dead.
    /// </summary>
    DetectPauses,

    /// <summary>Orleans 10.4.2's defaults (nothing configured).</summary>
    Defaults,
}

/// <summary>
/// The chaos tool's own options of the <c>silo</c> subcommand (the load tool's silo host): membership settings, Redis
/// membership (so silo 0 can be faulted like any other: with localhost clustering it holds the membership table),
/// the fsync fault seam and the engine clock's rate.
/// </summary>
internal static class ChaosSilo
{
    public static readonly Option<MembershipSettings> Membership = new("--membership") { Description = "Membership settings" };
    public static readonly Option<string?> RedisMembership = new("--redis-membership") { Description = "Redis for Orleans membership (else localhost clustering)" };
    public static readonly Option<bool> FsyncFaults = new("--fsync-faults") { Description = $"While <data directory>{FsyncTriggerSuffix} exists, every WAL fsync fails (EIO)" };
    public static readonly Option<double> ClockRate = new("--clock-rate")
    {
        Description = "Rate of the replication engine's monotonic clock (leases, lease guards, birth claims) against the machine's, e.g. 1.06",
        DefaultValueFactory = _ => 1.0,
    };

    /// <summary>The fsync fault trigger of a silo is its data directory's path with this suffix (a sibling, off its volume).</summary>
    public const string FsyncTriggerSuffix = ".fail-fsync";

    public static IReadOnlyList<Option> Options => [Membership, RedisMembership, FsyncFaults, ClockRate];

    public static void Configure(ParseResult parse, ISiloBuilder silo)
    {
        if (parse.GetValue(RedisMembership) is { } redis) silo.UseRedisClustering(redis);
        silo.Configure<ClusterMembershipOptions>(parse.GetValue(Membership) switch
        {
            MembershipSettings.Defaults => RestoreDefaults,
            _ => DetectPauses,
        });
        if (parse.GetValue(FsyncFaults))
        {
            // Runs after the benchmark configuration, which set the data directory.
            silo.Configure<ReplicatedGrainsOptions>(o => o.WalFileSystem = FsyncFaultsWhileTriggered(Path.GetFullPath(o.DataDirectory!) + FsyncTriggerSuffix));
        }
        double rate = parse.GetValue(ClockRate);
        if (!(rate > 0)) throw new ArgumentOutOfRangeException(nameof(rate), rate, "--clock-rate must be positive");
        if (rate != 1.0) silo.Configure<ReplicatedGrainsOptions>(o => o.MonotonicClock = new RateClock(rate));
    }

    /// <summary>
    /// The real file system, except that while <paramref name="trigger"/> exists every fsync of a WAL file with new data
    /// fails with EIO, as a failing device does. The log must cut the failed batch off and never fsync it again (it
    /// reopens later and the replicas recover from peers).
    /// </summary>
    private static IFileSystem FsyncFaultsWhileTriggered(string trigger) => new FillableFileSystem { FsyncFailsWhen = _ => File.Exists(trigger) };

    /// <summary>The values samples/Deploy sets with both of its failure-detection switches on.</summary>
    private static void DetectPauses(ClusterMembershipOptions o)
    {
        o.ProbeTimeout = TimeSpan.FromSeconds(1);
        o.NumMissedProbesLimit = 3;
        o.NumVotesForDeathDeclaration = 2;
        o.TableRefreshTimeout = TimeSpan.FromSeconds(1);
        o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(2);
        o.EnableIndirectProbes = false;
        o.EnableConnectionLivenessCheck = false;
        o.ExtendProbeTimeoutDuringDegradation = false;
    }

    /// <summary>Undoes the load tool's fast membership settings: every field it sets goes back to Orleans' default.</summary>
    private static void RestoreDefaults(ClusterMembershipOptions o)
    {
        var d = new ClusterMembershipOptions();
        o.ProbeTimeout = d.ProbeTimeout;
        o.NumMissedProbesLimit = d.NumMissedProbesLimit;
        o.NumVotesForDeathDeclaration = d.NumVotesForDeathDeclaration;
        o.TableRefreshTimeout = d.TableRefreshTimeout;
        o.IAmAliveTablePublishTimeout = d.IAmAliveTablePublishTimeout;
        o.EnableIndirectProbes = d.EnableIndirectProbes;
        o.EnableConnectionLivenessCheck = d.EnableConnectionLivenessCheck;
        o.ExtendProbeTimeoutDuringDegradation = d.ExtendProbeTimeoutDuringDegradation;
    }
}

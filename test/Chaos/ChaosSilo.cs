using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenReplica.Orleans;
using OpenReplica.Storage;
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
            silo.Configure<ReplicatedGrainsOptions>(o => o.WalFileSystem = new FsyncFaultFileSystem(Path.GetFullPath(o.DataDirectory!) + FsyncTriggerSuffix));
        }
        double rate = parse.GetValue(ClockRate);
        if (!(rate > 0)) throw new ArgumentOutOfRangeException(nameof(rate), rate, "--clock-rate must be positive");
        if (rate != 1.0) silo.Configure<ReplicatedGrainsOptions>(o => o.MonotonicClock = new RateClock(rate));
    }

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

/// <summary>
/// The real file system, except that while <paramref name="trigger"/> exists every fsync of a WAL file fails with EIO
/// after the data was written, as a failing device does. The log must cut the failed batch off and never fsync it
/// again (it reopens later and the replicas recover from peers).
/// </summary>
internal sealed class FsyncFaultFileSystem(string trigger) : IFileSystem
{
    private readonly IFileSystem _real = PhysicalFileSystem.Instance;
    private long _failed;

    /// <summary>fsyncs failed so far.</summary>
    public long Failed => Interlocked.Read(ref _failed);

    private bool Failing => File.Exists(trigger);

    public void CreateDirectory(string path) => _real.CreateDirectory(path);

    public bool FileExists(string path) => _real.FileExists(path);

    public IEnumerable<string> EnumerateFiles(string directory, string searchPattern) => _real.EnumerateFiles(directory, searchPattern);

    public IFile Open(string path, FileMode mode) => new FaultyFile(this, _real.Open(path, mode));

    public IFile OpenRead(string path) => _real.OpenRead(path);

    public void Delete(string path) => _real.Delete(path);

    public void Move(string source, string destination) => _real.Move(source, destination);

    public void FlushDirectory(string directory) => _real.FlushDirectory(directory);

    private sealed class FaultyFile(FsyncFaultFileSystem fs, IFile real) : IFile
    {
        private bool _writtenSinceFlush;

        public long Length => real.Length;

        public int Read(Span<byte> buffer, long offset) => real.Read(buffer, offset);

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            real.Write(data, offset);
            _writtenSinceFlush = true;
        }

        public void SetLength(long length) => real.SetLength(length);

        public void Flush()
        {
            // Only an fsync that has new data to make durable fails: the log's cut-back (truncate + fsync) goes through,
            // as it does on a device whose failed writeback is dropped.
            if (_writtenSinceFlush && fs.Failing)
            {
                _writtenSinceFlush = false;
                Interlocked.Increment(ref fs._failed);
                throw new IOException("Input/output error (fsync failed: injected by the chaos tool)", 5);
            }
            real.Flush();
            _writtenSinceFlush = false;
        }

        public void Dispose() => real.Dispose();
    }
}

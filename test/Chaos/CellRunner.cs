using System.Diagnostics;
using Microsoft.Extensions.Hosting;
using OpenReplica.LoadTest;
using OpenReplica.Orleans;

namespace OpenReplica.Chaos;

/// <summary>Settings of one chaos run (every cell uses them). <paramref name="Redis"/>: Orleans membership in Redis, or null for localhost clustering.</summary>
internal sealed record ChaosSettings(int Seed, TimeSpan Duration, int Clients, int Registers, TimeSpan Lease, string WorkDirectory, string? Redis,
    double ClockSkew = Schedule.DefaultClockSkew);

/// <summary>What one cell measured: each workload's result, the faults as applied and the recovery of the grains each hit.</summary>
internal sealed record CellReport(
    NemesisKind Nemesis,
    MembershipSettings Membership,
    IReadOnlyList<(WorkloadKind Workload, ChaosCellResult Result)> Results,
    IReadOnlyList<(AppliedFault Fault, TimeSpan? Recovery)> Faults,
    int ZombieRefusals,
    string? Skipped = null);

/// <summary>
/// One cell: a fresh cluster of three Persisted silo processes, the workloads running at once, one nemesis schedule,
/// the checks; the cluster is torn down and every fault healed whatever happens.
/// </summary>
internal static class CellRunner
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(8);
    private const int Silos = 3;

    /// <summary>How far past the cell's duration a fault delayed by slow heals may still start.</summary>
    private static readonly TimeSpan LateFaultBound = TimeSpan.FromSeconds(30);

    /// <summary>Why a nemesis cannot run on this machine, or null.</summary>
    public static string? Unavailable(NemesisKind nemesis) => nemesis switch
    {
        NemesisKind.IsolateLeader or NemesisKind.Bridge or NemesisKind.ClockSkew or NemesisKind.SilenceGateway when !Partitions.Available =>
            "iptables is not available (apt-get install iptables, run as root)",
        NemesisKind.ClockJump when !Clocks.Available => "libfaketime is not installed (apt-get install libfaketime)",
        NemesisKind.DiskFull when !DiskVolumes.Available => "mounting a tmpfs needs root",
        _ => null,
    };

    public static async Task<CellReport> RunAsync(NemesisKind nemesis, MembershipSettings membership, IReadOnlyList<WorkloadKind> kinds,
        ChaosSettings settings, Action<string> log, CancellationToken cancellationToken)
    {
        string name = $"{nemesis}-{membership}".ToLowerInvariant();
        string cellDirectory = Path.Combine(settings.WorkDirectory, name);
        string dataRoot = Path.Combine(cellDirectory, "data");
        Directory.CreateDirectory(dataRoot);
        string DataOf(int silo) => Path.Combine(dataRoot, $"silo-{silo}");
        var faults = Schedule.Create(nemesis, settings.Seed, settings.Duration);

        bool partitioned = nemesis is NemesisKind.IsolateLeader or NemesisKind.Bridge or NemesisKind.ClockSkew or NemesisKind.SilenceGateway;
        using var cgroups = partitioned ? SiloCgroups.TryCreate(name, Silos) : null;
        if (partitioned && cgroups is null) return Skip("no writable cgroup2 mount (partitions tell silos apart by cgroup)");
        using var partitions = cgroups is not null ? new Partitions(cgroups, Silos) : null;
        var clocks = nemesis is NemesisKind.ClockJump or NemesisKind.ClockSkew ? new Clocks(cellDirectory) : null;
        if (nemesis == NemesisKind.ClockSkew)
        {
            foreach (var (silo, rate) in Schedule.SkewRates(settings.ClockSkew)) clocks!.Rates[silo] = rate;
            log($"engine clocks (leases): {string.Join(", ", clocks!.Rates.Select(r => $"silo {r.Key} at {r.Value:0.###}x"))}, silo 0 true");
        }
        using var volumes = nemesis == NemesisKind.DiskFull ? new DiskVolumes() : null;
        for (int i = 0; volumes is not null && i < Silos; i++) volumes.Mount(DataOf(i));

        List<string> extra = ["--membership", membership.ToString()];
        if (settings.Redis is not null) extra.AddRange(["--redis-membership", settings.Redis]);
        if (nemesis == NemesisKind.FsyncFail) extra.Add("--fsync-faults");
        void Customize(int silo, ProcessStartInfo psi)
        {
            clocks?.Prepare(silo, psi);
            cgroups?.Wrap(silo, psi); // last: the wrapper execs the command prepared above
        }

        using var clientLogs = new FileLoggerProvider(Path.Combine(cellDirectory, "client.log"));
        // With membership in Redis the clients take their gateway list from it too, so they stop using a gateway membership
        // declared dead (a paused silo keeps its connections open: a static list would keep sending calls into it).
        Action<IClientBuilder>? configureClient = settings.Redis is { } redis ? c => c.UseRedisClustering(redis) : null;
        var spec = new ProcessClusterSpec(name, Silos, ReplicationMode.Persisted, Silos, dataRoot, settings.Lease,
            ExtraSiloArguments: extra, CustomizeSilo: Customize, ConfigureClient: configureClient);
        await using var cluster = await ProcessCluster.StartAsync(spec, cellDirectory, clientLogs, log, cancellationToken);
        if (partitions is not null) (partitions.Ports, partitions.GatewayPorts) = (cluster.SiloPorts, cluster.GatewayPorts);

        var availability = new Availability();
        var workloads = kinds.Select(k => Create(k, cluster, settings, availability, log)).ToList();
        var targetable = settings.Redis is not null ? Enumerable.Range(0, Silos).ToHashSet() : Enumerable.Range(1, Silos - 1).ToHashSet();
        var paths = new SiloPaths(i => DataOf(i), i => Path.GetFullPath(DataOf(i)) + ChaosSilo.FsyncTriggerSuffix);
        try
        {
            await using var chaos = new Nemesis(cluster, workloads, targetable, partitions, clocks, paths, settings.Seed, log);
            var clock = Stopwatch.StartNew();
            using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            var clients = Task.WhenAll(workloads.Select(w => w.RunAsync(clock, stop.Token)));
            var faultsDone = chaos.RunAsync(faults, clock, settings.Duration + LateFaultBound, cancellationToken);
            // The workload runs for the duration and, when a heal (silo restarts) outlasts it, until 5 s after the last
            // heal, so the history always covers the recovered cluster.
            await Task.WhenAll(Task.Delay(settings.Duration, cancellationToken), faultsDone);
            await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
            stop.Cancel();
            await clients;
            cancellationToken.ThrowIfCancellationRequested();
            log($"{clock.Elapsed.TotalSeconds,6:0.0}s workload stopped; checking");
            var results = new List<(WorkloadKind, ChaosCellResult)>();
            foreach (var w in workloads) results.Add((w.Kind, await w.CheckAsync(TimeSpan.FromSeconds(30))));
            var applied = chaos.Applied.Select(f => (f, f.OnLeader ? availability.Recovery(f.Groups, f.Started) : null)).ToList();
            return new CellReport(nemesis, membership, results, applied, ZombieRefusals(cellDirectory, name));
        }
        finally
        {
            foreach (var w in workloads) if (w is IAsyncDisposable d) await d.DisposeAsync();
        }

        CellReport Skip(string why) => new(nemesis, membership, [], [], 0, why);
    }

    private static IChaosWorkload Create(WorkloadKind kind, ProcessCluster cluster, ChaosSettings s, Availability availability, Action<string> log) => kind switch
    {
        WorkloadKind.Register => new RegisterWorkload(cluster.Client, s.Clients, s.Registers, s.Seed, CallTimeout, availability),
        WorkloadKind.Bank => new BankWorkload(cluster.Client, s.Clients, s.Seed, CallTimeout, availability),
        WorkloadKind.Append => new AppendWorkload(cluster.Client, s.Clients, s.Seed, CallTimeout, availability),
        WorkloadKind.Lock => new LockWorkload(cluster, Math.Max(2, s.Clients / 2), s.Seed, CallTimeout, availability, log),
        _ => throw new ArgumentOutOfRangeException(nameof(kind)),
    };

    /// <summary>
    /// Consensus messages refused from a silo membership declared dead (InboundAdmission's warning, once per sender):
    /// shows that a resumed zombie leader could not renew its followers' lease promises.
    /// </summary>
    private static int ZombieRefusals(string directory, string name) =>
        Enumerable.Range(0, Silos).Select(i => Path.Combine(directory, $"{name}-silo-{i}.log")).Where(File.Exists).Sum(f =>
        {
            try { return File.ReadLines(f).Count(l => l.Contains("membership lists as Dead", StringComparison.Ordinal)); }
            catch (IOException) { return 0; }
        });
}

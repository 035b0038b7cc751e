using System.Diagnostics;
using System.Globalization;
using OpenReplica.LoadTest;
using OpenReplica.Orleans;

namespace OpenReplica.Chaos;

/// <summary>A fault as applied: on which silo, whether that silo led the workloads' grains, and the groups it led.</summary>
internal sealed record AppliedFault(Fault Fault, int Silo, bool OnLeader, IReadOnlyList<string> Groups, TimeSpan Started)
{
    public string Describe() => string.Create(CultureInfo.InvariantCulture,
        $"{Fault.Kind} silo {(Silo < 0 ? "all" : Silo.ToString(CultureInfo.InvariantCulture))}{(OnLeader ? $" (leader of {Groups.Count} groups)" : Silo < 0 ? "" : " (not a leader)")} at {Started.TotalSeconds:0.0}s for {Fault.Length.TotalSeconds:0.0}s{(Fault.Offset != TimeSpan.Zero ? $", clock {Fault.Offset.TotalSeconds:+0;-0}s" : "")}");
}

/// <summary>Where the nemesis reaches a silo: its data directory (disk full) and its fsync trigger file.</summary>
internal sealed record SiloPaths(Func<int, string> DataDirectory, Func<int, string> FsyncTrigger);

/// <summary>
/// Applies a schedule to a <see cref="ProcessCluster"/>: each fault is aimed at the silo that leads the workloads'
/// grains at that moment (<see cref="LeaderFinder"/>), and healed after its length — and at exit, on Ctrl-C or an
/// exception (paused silos get SIGCONT, firewall rules are removed, clocks return to true time, disks are freed).
/// After a heal, a silo that stopped itself (membership declared it dead) or was killed is restarted with its data.
/// </summary>
internal sealed class Nemesis(
    ProcessCluster cluster,
    IReadOnlyList<IChaosWorkload> workloads,
    IReadOnlySet<int> targetable,
    Partitions? partitions,
    Clocks? clocks,
    SiloPaths paths,
    int seed,
    Action<string> log) : IAsyncDisposable
{
    private readonly HashSet<int> _paused = [];
    private readonly HashSet<int> _jumped = [];
    private readonly HashSet<int> _filled = [];
    private readonly HashSet<int> _fsyncFailing = [];
    private readonly Random _random = new(seed);

    public List<AppliedFault> Applied { get; } = [];

    /// <summary>A fault whose time passed while the previous heal ran starts this long after that heal instead.</summary>
    private static readonly TimeSpan GapAfterLateHeal = TimeSpan.FromSeconds(3);

    /// <param name="latestStart">No fault starts later than this (from the workload's start), even one delayed by a slow heal.</param>
    public async Task RunAsync(IReadOnlyList<Fault> faults, Stopwatch clock, TimeSpan latestStart, CancellationToken cancellationToken)
    {
        foreach (var fault in faults)
        {
            var at = fault.At;
            if (clock.Elapsed > at)
            {
                // The previous heal (restarting silo processes, waiting for membership) outlasted the gap to this fault:
                // the fault starts a little after the heal instead, within a bound. Logged: the run differs from the schedule.
                at = clock.Elapsed + GapAfterLateHeal;
                if (at > latestStart)
                {
                    log($"{clock.Elapsed.TotalSeconds,6:0.0}s skipped {fault.Kind} planned at {fault.At.TotalSeconds:0.0}s (the previous heal ran too long)");
                    continue;
                }
                log($"{clock.Elapsed.TotalSeconds,6:0.0}s {fault.Kind} planned at {fault.At.TotalSeconds:0.0}s starts at {at.TotalSeconds:0.0}s (after the previous heal)");
            }
            var wait = at - clock.Elapsed;
            if (wait > TimeSpan.Zero) await Task.Delay(wait, cancellationToken);
            var target = fault.Kind == NemesisKind.KillAll
                ? new LeaderFinder.Target(-1, false, [])
                : await LeaderFinder.FindAsync(cluster, workloads, targetable, _random, fault.Kind == NemesisKind.ClockSkew ? clocks?.Slowest : null);
            var applied = new AppliedFault(fault, target.Silo, target.IsLeader, target.Groups, clock.Elapsed);
            Applied.Add(applied);
            log($"{clock.Elapsed.TotalSeconds,6:0.0}s {applied.Describe()}");
            Start(fault, target.Silo);
            await Task.Delay(fault.Length, cancellationToken);
            await HealAsync(cancellationToken);
            log($"{clock.Elapsed.TotalSeconds,6:0.0}s healed");
        }
    }

    private void Start(Fault fault, int silo)
    {
        switch (fault.Kind)
        {
            case NemesisKind.KillLeader:
                cluster.Kill(silo);
                break;
            case NemesisKind.KillAll:
                for (int i = 0; i < cluster.SiloPorts.Count; i++) cluster.Kill(i);
                break;
            case NemesisKind.PauseLeader or NemesisKind.ShortPauseLeader:
                Signal("STOP", cluster.Pid(silo));
                _paused.Add(silo);
                break;
            case NemesisKind.IsolateLeader or NemesisKind.ClockSkew:
                partitions!.Isolate(silo);
                break;
            case NemesisKind.Bridge:
                var others = Enumerable.Range(0, cluster.SiloPorts.Count).Where(i => i != silo).ToArray();
                int cut = others[_random.Next(others.Length)];
                log($"         bridge: silo {silo} cut from silo {cut} only");
                partitions!.Cut(silo, cut);
                break;
            case NemesisKind.SilenceGateway:
                partitions!.SilenceGateway(silo);
                break;
            case NemesisKind.ClockJump:
                clocks!.Jump(silo, fault.Offset);
                _jumped.Add(silo);
                break;
            case NemesisKind.DiskFull:
                DiskVolumes.Fill(paths.DataDirectory(silo));
                _filled.Add(silo);
                break;
            case NemesisKind.FsyncFail:
                File.WriteAllText(paths.FsyncTrigger(silo), "fail");
                _fsyncFailing.Add(silo);
                break;
        }
    }

    /// <summary>
    /// Undoes every fault, then waits (bounded) until every silo process runs and membership lists each as active,
    /// restarting the silos that are not running (killed, or stopped by themselves once membership declared them dead),
    /// so that the next fault hits a whole cluster rather than adding to this one.
    /// </summary>
    private async Task HealAsync(CancellationToken cancellationToken)
    {
        UndoFaults();
        var bound = System.Diagnostics.Stopwatch.StartNew();
        while (bound.Elapsed < HealBound)
        {
            // A silo declared dead while paused or cut off stops itself once it learns so; give it the time to notice.
            await Task.Delay(TimeSpan.FromSeconds(2), cancellationToken);
            for (int silo = 0; silo < cluster.SiloPorts.Count; silo++)
            {
                if (cluster.IsAlive(silo)) continue;
                log($"         restarting silo {silo}");
                await cluster.RestartAsync(silo, cancellationToken);
            }
            if (await AllActiveAsync()) return;
        }
        log($"         the cluster did not settle within {HealBound.TotalSeconds:0} s after the heal; going on");
    }

    private static readonly TimeSpan HealBound = TimeSpan.FromSeconds(45);

    /// <summary>Whether the status API lists every silo process (by its current address) as a live silo.</summary>
    private async Task<bool> AllActiveAsync()
    {
        try
        {
            var status = await cluster.Client.GetReplicatedClusterStatusAsync(TimeSpan.FromSeconds(3)).WaitAsync(TimeSpan.FromSeconds(10));
            var live = status.Silos.Select(s => s.Silo).ToHashSet();
            return cluster.Addresses.All(live.Contains) && status.Unreachable.Length == 0;
        }
        catch (Exception)
        {
            return false;
        }
    }

    private void UndoFaults()
    {
        foreach (int silo in _paused) Signal("CONT", cluster.Pid(silo));
        _paused.Clear();
        partitions?.HealAll();
        foreach (int silo in _jumped) clocks!.Jump(silo, TimeSpan.Zero);
        _jumped.Clear();
        foreach (int silo in _filled) DiskVolumes.Free(paths.DataDirectory(silo));
        _filled.Clear();
        foreach (int silo in _fsyncFailing) File.Delete(paths.FsyncTrigger(silo));
        _fsyncFailing.Clear();
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(CultureInfo.InvariantCulture)]) { UseShellExecute = false });
        kill?.WaitForExit(5000);
    }

    public ValueTask DisposeAsync()
    {
        // A stopped process ignores the closed stdin that makes a silo exit: resume it so teardown works.
        UndoFaults();
        return ValueTask.CompletedTask;
    }
}

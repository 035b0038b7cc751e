using System.Diagnostics;
using OpenReplica.LoadTest;

namespace OpenReplica.Chaos;

/// <summary>The faults the tool injects (in the order of the table).</summary>
public enum NemesisKind { None, KillOne, KillAll, Pause, Partition }

/// <summary>One fault of a schedule: what, on which silo, when (from the workload's start) and for how long.</summary>
internal sealed record Fault(NemesisKind Kind, int Silo, TimeSpan At, TimeSpan Length);

/// <summary>
/// A seeded schedule: the same seed and duration give the same faults. Faults target silos 1..n-1: silo 0 holds the
/// development membership table of a localhost cluster, so losing it is a loss of the membership service, not a
/// silo fault (kill-all still kills it).
/// </summary>
internal static class Schedule
{
    public static IReadOnlyList<Fault> Create(NemesisKind kind, int seed, TimeSpan duration, int silos, TimeSpan lease)
    {
        var faults = new List<Fault>();
        if (kind == NemesisKind.None) return faults;
        var random = new Random(seed);
        var at = TimeSpan.FromSeconds(2 + random.NextDouble() * 2);
        // Leave the last seconds of the run fault-free so the final reads see a healed cluster.
        while (at < duration - TimeSpan.FromSeconds(6))
        {
            int silo = kind == NemesisKind.KillAll ? -1 : 1 + random.Next(silos - 1);
            var length = kind switch
            {
                // Longer than the lease and than membership's probe limit (3 × 1 s) so the silo is declared dead.
                NemesisKind.Pause => lease + TimeSpan.FromSeconds(3 + random.NextDouble() * 3),
                NemesisKind.Partition => TimeSpan.FromSeconds(3 + random.NextDouble() * 5),
                _ => TimeSpan.FromSeconds(1 + random.NextDouble() * 2),
            };
            faults.Add(new Fault(kind, silo, at, length));
            at += length + TimeSpan.FromSeconds(3 + random.NextDouble() * 4);
        }
        return faults;
    }
}

/// <summary>Applies a schedule to a <see cref="ProcessCluster"/>, and heals whatever it did, even when cancelled.</summary>
internal sealed class Nemesis(ProcessCluster cluster, Action<string> log) : IAsyncDisposable
{
    private readonly HashSet<int> _paused = [];
    private readonly Partitions _partitions = new();
    private readonly HashSet<int> _killed = [];

    public static bool IptablesAvailable => Partitions.Available;

    public async Task RunAsync(IReadOnlyList<Fault> faults, Stopwatch clock, CancellationToken cancellationToken)
    {
        foreach (var fault in faults)
        {
            var wait = fault.At - clock.Elapsed;
            if (wait < -TimeSpan.FromSeconds(1))
            {
                // The previous heal (a restart of silo processes) outlasted the gap to this fault: skip it rather
                // than inject faults after the workload stopped. Logged, since it makes the run differ from the schedule.
                log($"{clock.Elapsed.TotalSeconds,6:0.0}s skipped {fault.Kind} planned at {fault.At.TotalSeconds:0.0}s (the previous heal was still running)");
                continue;
            }
            if (wait > TimeSpan.Zero) await Task.Delay(wait, cancellationToken);
            log($"{clock.Elapsed.TotalSeconds,6:0.0}s {fault.Kind} silo {(fault.Silo < 0 ? "all" : fault.Silo)} for {fault.Length.TotalSeconds:0.0}s");
            await StartAsync(fault);
            await Task.Delay(fault.Length, cancellationToken);
            await HealAsync(cancellationToken);
            log($"{clock.Elapsed.TotalSeconds,6:0.0}s healed");
        }
    }

    private Task StartAsync(Fault fault)
    {
        switch (fault.Kind)
        {
            case NemesisKind.KillOne:
                cluster.Kill(fault.Silo);
                _killed.Add(fault.Silo);
                break;
            case NemesisKind.KillAll:
                for (int i = 0; i < cluster.SiloPorts.Count; i++) { cluster.Kill(i); _killed.Add(i); }
                break;
            case NemesisKind.Pause:
                Signal("STOP", cluster.Pid(fault.Silo));
                _paused.Add(fault.Silo);
                break;
            case NemesisKind.Partition:
                _partitions.Isolate(cluster.SiloPorts[fault.Silo]);
                break;
        }
        return Task.CompletedTask;
    }

    /// <summary>Resumes paused silos, removes our firewall rules, restarts killed silos (silo 0 first: it holds membership).</summary>
    private async Task HealAsync(CancellationToken cancellationToken)
    {
        foreach (var silo in _paused) Signal("CONT", cluster.Pid(silo));
        _paused.Clear();
        _partitions.HealAll();
        foreach (var silo in _killed.Order().ToArray())
        {
            await cluster.RestartAsync(silo, cancellationToken);
            _killed.Remove(silo);
        }
    }

    private static void Signal(string signal, int pid)
    {
        using var kill = Process.Start(new ProcessStartInfo("kill", ["-" + signal, pid.ToString(System.Globalization.CultureInfo.InvariantCulture)]) { UseShellExecute = false });
        kill?.WaitForExit(5000);
    }

    public ValueTask DisposeAsync()
    {
        // A stopped process ignores the closed stdin that makes a silo exit; resume it so teardown works.
        foreach (var silo in _paused) Signal("CONT", cluster.Pid(silo));
        _paused.Clear();
        _partitions.HealAll();
        return ValueTask.CompletedTask;
    }
}

using System.Diagnostics;
using OpenReplica.LoadTest;
using OpenReplica.Orleans;

namespace OpenReplica.Chaos;

/// <summary>Settings of one chaos run (every cell of the table uses them).</summary>
internal sealed record ChaosSettings(int Seed, TimeSpan Duration, int Clients, int Registers, TimeSpan Lease, string WorkDirectory);

/// <summary>
/// One cell of the table: a fresh cluster of three Persisted silo processes, one workload, one nemesis schedule, the
/// check; the cluster is torn down and every fault healed whatever happens.
/// </summary>
internal static class CellRunner
{
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(8);

    public static async Task<ChaosCellResult> RunAsync(NemesisKind nemesis, WorkloadKind workload, ChaosSettings settings, Action<string> log, CancellationToken cancellationToken)
    {
        string name = $"{nemesis}-{workload}".ToLowerInvariant();
        string dataRoot = Path.Combine(settings.WorkDirectory, name, "data");
        Directory.CreateDirectory(dataRoot);
        var faults = Schedule.Create(nemesis, settings.Seed, settings.Duration, 3, settings.Lease);
        using var clientLogs = new FileLoggerProvider(Path.Combine(settings.WorkDirectory, name, "client.log"));
        var spec = new ProcessClusterSpec(name, 3, ReplicationMode.Persisted, 3, dataRoot, settings.Lease);
        await using var cluster = await ProcessCluster.StartAsync(spec, Path.Combine(settings.WorkDirectory, name), clientLogs, log, cancellationToken);
        await using var chaos = new Nemesis(cluster, log);
        var clock = Stopwatch.StartNew();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);

        var register = workload == WorkloadKind.Register ? new RegisterWorkload(cluster.Client, settings.Clients, settings.Registers, settings.Seed, CallTimeout) : null;
        var bank = workload == WorkloadKind.Bank ? new BankWorkload(cluster.Client, settings.Clients, settings.Seed, CallTimeout) : null;
        var clients = register?.RunAsync(clock, stop.Token) ?? bank!.RunAsync(clock, stop.Token);
        var faultsDone = chaos.RunAsync(faults, clock, cancellationToken);
        // The workload runs for the duration and, when a heal (silo restarts) outlasts it, until 5 s after the last heal,
        // so the history always covers the recovered cluster.
        await Task.WhenAll(Task.Delay(settings.Duration, cancellationToken), faultsDone);
        await Task.Delay(TimeSpan.FromSeconds(5), cancellationToken);
        stop.Cancel();
        await clients;
        cancellationToken.ThrowIfCancellationRequested();
        log($"{clock.Elapsed.TotalSeconds,6:0.0}s workload stopped; checking");
        return register is not null ? register.Check(TimeSpan.FromSeconds(30)) : await bank!.CheckAsync(TimeSpan.FromSeconds(30));
    }
}

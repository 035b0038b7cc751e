using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenReplica.Orleans;
using Orleans.Configuration;
using Spectre.Console;

namespace Quickstart;

/// <summary>
/// The scenario: three silos, a bank workload, kill -9 the silo hosting the busiest grain, keep going, restart it
/// with the same data directory, keep going, stop, then check every acknowledged operation against the grains.
/// </summary>
public static class Demo
{
    private const int Silos = 3;
    private const int Callers = 16;
    private static readonly TimeSpan WarmUp = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan SiloDown = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan AfterRestart = TimeSpan.FromSeconds(8);
    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(30);

    public static async Task<int> RunAsync(CancellationToken cancel)
    {
        var clock = Stopwatch.StartNew();
        using var cluster = LocalCluster.Create(Silos);
        AnsiConsole.MarkupLine($"[bold]OpenReplica quickstart[/]: {Silos} silos, replication factor 3, {Callers} concurrent callers.");
        AnsiConsole.MarkupLine($"Data directories and silo logs: [grey]{cluster.Root.EscapeMarkup()}[/]");

        await AnsiConsole.Status().StartAsync("Starting silo 1 (hosts the membership table)...", async ctx =>
        {
            await cluster.StartAsync(1);
            ctx.Status("Starting silos 2 and 3...");
            await Task.WhenAll(cluster.StartAsync(2), cluster.StartAsync(3));
        });
        AnsiConsole.MarkupLine($"Silos up after {clock.Elapsed.TotalSeconds:F1} s:");
        foreach (var silo in cluster.Silos)
        {
            AnsiConsole.MarkupLine($"  silo {silo.Number}: pid {cluster.ProcessIdOf(silo.Number)}, silo port {silo.SiloPort}, gateway port {silo.GatewayPort}");
        }


        var attempts = new AttemptCounter();
        using var client = await StartClientAsync(cluster, attempts);
        var grains = client.Services.GetRequiredService<IClusterClient>();
        var workload = new BankWorkload(grains, attempts, Callers);
        var progress = new ProgressLine(workload);

        int? killed = null;
        string? victimAccount = null;
        long killedAt = 0;
        Task<long>? firstWrite = null;
        workload.Start();
        await progress.ShowWhileAsync(async () =>
        {
            progress.Phase = "warm-up";
            await Task.Delay(WarmUp, cancel);

            (killed, victimAccount) = await PickVictimAsync(grains, workload, cluster);
            progress.Event($"Killing silo {killed} (kill -9): it hosts [bold]{victimAccount}[/], the busiest grain off silo 1.");
            cluster.Kill(killed.Value); // returns once the process is gone
            killedAt = Stopwatch.GetTimestamp();
            firstWrite = workload.FirstAcknowledgedAsync(victimAccount, killedAt);
            _ = ReportFailoverAsync(victimAccount, killedAt, firstWrite);
            progress.Phase = $"silo {killed} killed";
            await Task.Delay(SiloDown, cancel);

            progress.Phase = $"restarting silo {killed}";
            progress.Event($"Restarting silo {killed} with the same data directory.");
            await cluster.StartAsync(killed.Value);
            progress.Event($"Silo {killed} is back.");
            progress.Phase = $"silo {killed} back";
            await Task.Delay(AfterRestart, cancel);

            progress.Phase = "stopping the workload";
            await workload.StopAsync(DrainTimeout);
        });

        async Task ReportFailoverAsync(string account, long since, Task<long> written)
        {
            var at = await written;
            var host = await grains.GetGrain<IAccountGrain>(account).GetHost();
            progress.Event($"[bold]{account}[/] answers again from silo {cluster.SiloOfProcess(host.ProcessId)}: "
                + $"first write sent after the kill acknowledged {Seconds(since, at)} after it.");
        }

        AnsiConsole.MarkupLine("Checking the grains against the client's ledger...");
        var ledger = workload.Ledger.Values.ToList();
        var checks = await Verification.CheckAsync(grains, ledger).WaitAsync(TimeSpan.FromSeconds(60), cancel);
        bool passed = checks.All(c => c.Ok);

        AnsiConsole.Write(Verification.AccountsTable(checks));
        string failover = firstWrite is { IsCompletedSuccessfully: true }
            ? $"{Seconds(killedAt, firstWrite.Result)} ({victimAccount})"
            : "no write after the kill";
        AnsiConsole.Write(Summary(workload, killed, failover, clock.Elapsed, passed));
        return passed ? 0 : 1;
    }

    private static async Task<IHost> StartClientAsync(LocalCluster cluster, AttemptCounter attempts)
    {
        var builder = Host.CreateApplicationBuilder();
        builder.Logging.ClearProviders().SetMinimumLevel(LogLevel.Warning).AddFilter("OpenReplica", LogLevel.Information)
            .AddProvider(new FileLoggerProvider(Path.Combine(cluster.Root, "client.log")));
        builder.UseOrleansClient(client =>
        {
            client.UseLocalhostClustering(cluster.GatewayPorts);
            client.UseReplicatedGrains(); // retried with the same stamp until CallDeadline (60 s), backoff 50-500 ms
            client.Services.AddSingleton<IOutgoingGrainCallFilter>(attempts); // after UseReplicatedGrains: sees each attempt
            client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromSeconds(1));
            // No ResponseTimeout tweak: a request on its way to the killed silo is retried (same stamp, so it cannot run
            // twice) as soon as the client sees that silo's gateway connection close.
        });
        var host = builder.Build();
        await host.StartAsync();
        return host;
    }

    /// <summary>
    /// The silo to kill: the one hosting the busiest account grain's activation, except silo 1 (it hosts the
    /// development membership table). If the busiest grain is on silo 1, the busiest grain elsewhere is used.
    /// </summary>
    private static async Task<(int Silo, string Account)> PickVictimAsync(IGrainFactory grains, BankWorkload workload, LocalCluster cluster)
    {
        var busiestFirst = workload.Ledger.Values.Where(op => op.Acknowledged)
            .CountBy(op => op.Account).OrderByDescending(c => c.Value).Select(c => c.Key);
        foreach (var account in busiestFirst)
        {
            var host = await grains.GetGrain<IAccountGrain>(account).GetHost();
            if (cluster.SiloOfProcess(host.ProcessId) is { } silo and not 1)
            {
                return (silo, account);
            }
        }

        throw new InvalidOperationException("every account grain is on silo 1; run again (placement depends on fresh replica ids)");
    }

    private static string Seconds(long from, long to) => $"{Stopwatch.GetElapsedTime(from, to).TotalSeconds:F2} s";

    private static Table Summary(BankWorkload workload, int? killed, string failover, TimeSpan elapsed, bool passed)
    {
        var table = new Table().Title("Summary").Border(TableBorder.Rounded).HideHeaders().AddColumn("").AddColumn("");
        table.AddRow("Operations acknowledged", $"{workload.Acknowledged:N0}");
        table.AddRow("Calls retried (same stamp)", $"{workload.Retries:N0}");
        table.AddRow("Errors (retries exhausted, in doubt)", workload.Errors == 0 ? "0" : $"[yellow]{workload.Errors:N0}[/]");
        table.AddRow("Silo killed (kill -9), restarted", killed is null ? "-" : $"silo {killed}");
        table.AddRow("Failover (kill -> first write)", failover);
        table.AddRow("Run time", $"{elapsed.TotalSeconds:F1} s");
        table.AddRow(
            "Result",
            passed
                ? "[bold green]No acknowledged operation was lost[/] (or applied twice)"
                : "[bold red]CHECK FAILED[/]: the grains do not match the acknowledged operations (see the table above)");
        return table;
    }
}

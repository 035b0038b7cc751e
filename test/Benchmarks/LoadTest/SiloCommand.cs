using System.CommandLine;
using System.Globalization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenReplica.LoadTest.External;
using OpenReplica.Orleans;
using Orleans.Runtime;

namespace OpenReplica.LoadTest;

/// <summary>
/// The <c>silo</c> subcommand: one benchmark silo in its own process, started by <see cref="SiloProcess"/>. It talks to
/// its parent over stdio: it prints <c>READY &lt;silo address&gt;</c> once started, answers <c>stats</c> with
/// <c>STATS &lt;consensus messages enqueued&gt; &lt;dropped&gt;</c>, stops gracefully on <c>stop</c> (Orleans' graceful
/// shutdown, which runs the replicas' decommission hand-over; it prints <c>STOPPED &lt;ms&gt;</c> and exits), and exits
/// at once as soon as stdin closes, so a parent that dies in any way (even kill -9) takes its silos with it.
/// </summary>
internal static class SiloCommand
{
    public const string Ready = "READY";
    public const string Stats = "STATS";
    public const string Stopped = "STOPPED";

    /// <summary>Bound on a graceful stop (the host's own shutdown timeout is 30 s; decommission's default 20 s).</summary>
    private static readonly TimeSpan GracefulStopBound = TimeSpan.FromSeconds(45);

    /// <param name="extraOptions">A tool's own silo options (the chaos tool's membership and fault seams).</param>
    /// <param name="configure">Runs after the benchmark configuration, with the parsed command line.</param>
    public static Command Create(IReadOnlyList<Option>? extraOptions = null, Action<ParseResult, ISiloBuilder>? configure = null)
    {
        var port = new Option<int>("--port") { Description = "Silo-to-silo port", Required = true };
        var gateway = new Option<int>("--gateway") { Description = "Gateway port", Required = true };
        var primary = new Option<int>("--primary") { Description = "Silo port of the primary silo (holds the development membership table)", Required = true };
        var index = new Option<int>("--index") { Description = "Silo number in its cluster (its name)", Required = true };
        var clusterId = new Option<string>("--cluster-id") { Description = "Orleans cluster id", Required = true };
        var mode = new Option<ReplicationMode>("--mode") { Description = "Replication mode", DefaultValueFactory = _ => ReplicationMode.Volatile };
        var data = new Option<string?>("--data") { Description = "Data directory (Persisted mode)" };
        var replicas = new Option<int>("--replicas") { Description = "Replication factor (3, 5 or 7)", DefaultValueFactory = _ => 3 };
        var redis = new Option<string?>("--redis") { Description = "Redis connection string for the IPersistentState grain" };
        var postgres = new Option<string?>("--postgres") { Description = "PostgreSQL connection string for the IPersistentState grain" };
        var lease = new Option<int>("--lease-ms") { Description = "Leader lease for [ReadOnly] methods in milliseconds (0: off, read-index per read)" };
        var log = new Option<string>("--log") { Description = "File for the silo's warnings and errors", Required = true };
        var logMemoryBudget = new Option<long?>("--log-memory-budget-mb") { Description = "ReplicatedGrainsOptions.LogMemoryBudget in MiB (default: the library's)" };
        var acceptSpares = new Option<int?>("--accept-spares") { Description = "ReplicatedGrainsOptions.AcceptSpares (default: the library's)" };

        var command = new Command("silo", "Host one benchmark silo (started by the load tool as a child process)")
        {
            port, gateway, primary, index, clusterId, mode, data, replicas, redis, postgres, lease, log, logMemoryBudget, acceptSpares,
        };
        foreach (var option in extraOptions ?? []) command.Options.Add(option);
        command.SetAction(async (parse, cancellationToken) =>
        {
            var spec = new SiloSpec(parse.GetValue(index), parse.GetValue(port), parse.GetValue(gateway), parse.GetValue(primary),
                parse.GetValue(clusterId)!, parse.GetValue(mode), parse.GetValue(data), parse.GetValue(replicas),
                TimeSpan.FromMilliseconds(parse.GetValue(lease)), parse.GetValue(logMemoryBudget) * 1024 * 1024, parse.GetValue(acceptSpares));
            return await RunAsync(spec, parse.GetValue(redis), parse.GetValue(postgres), parse.GetValue(log)!,
                configure is null ? null : silo => configure(parse, silo), cancellationToken);
        });
        return command;
    }

    private static async Task<int> RunAsync(SiloSpec spec, string? redis, string? postgres, string logPath, Action<ISiloBuilder>? configure,
        CancellationToken cancellationToken)
    {
        using var logs = new FileLoggerProvider(logPath);
        var host = new HostBuilder()
            .ConfigureLogging(l => BenchmarkHosting.Logging(l, logs))
            .UseOrleans(silo =>
            {
                silo.ConfigureBenchmarkSilo(spec);
                if (redis is not null || postgres is not null) silo.AddBenchmarkPersistence(redis, postgres);
                configure?.Invoke(silo);
            })
            .Build();
        await host.StartAsync(cancellationToken);
        var transport = host.Services.GetRequiredService<ReplicaTransport>();
        var stdout = Console.Out;
        await stdout.WriteLineAsync($"{Ready} {host.Services.GetRequiredService<ILocalSiloDetails>().SiloAddress}");
        await stdout.FlushAsync(cancellationToken);

        while (await Console.In.ReadLineAsync(cancellationToken) is { } line)
        {
            if (line == "stats")
            {
                await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{Stats} {transport.Enqueued} {transport.Dropped} {transport.BatchesDelivered}"));
                await stdout.FlushAsync(cancellationToken);
            }
            else if (line == "stop")
            {
                await StopGracefullyAsync(host, stdout);
                break;
            }
        }
        // stdin closed (the parent is done with us, or died: no graceful shutdown, the cluster is being torn down), or
        // the graceful stop asked for finished.
        logs.Dispose();
        Environment.Exit(0);
        return 0;
    }

    /// <summary>Orleans' graceful shutdown (leaves membership, decommission hands groups over), bounded.</summary>
    private static async Task StopGracefullyAsync(IHost host, TextWriter stdout)
    {
        var clock = System.Diagnostics.Stopwatch.StartNew();
        string outcome = "ok";
        try
        {
            using var bound = new CancellationTokenSource(GracefulStopBound);
            await host.StopAsync(bound.Token).WaitAsync(GracefulStopBound + TimeSpan.FromSeconds(5));
        }
        catch (Exception e)
        {
            outcome = e.GetType().Name;
        }
        await stdout.WriteLineAsync(string.Create(CultureInfo.InvariantCulture, $"{Stopped} {clock.ElapsedMilliseconds} {outcome}"));
        await stdout.FlushAsync();
    }
}

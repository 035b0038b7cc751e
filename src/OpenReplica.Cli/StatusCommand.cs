using System.CommandLine;
using System.Text.Json;
using System.Text.Json.Serialization;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenReplica.Orleans;
using Spectre.Console;

namespace OpenReplica.Cli;

/// <summary>
/// <c>openreplica status</c>: connects as an Orleans client (localhost, Redis or PostgreSQL clustering, as
/// samples/Deploy) and prints the cluster's <see cref="ReplicatedClusterStatus"/> as tables, or as JSON with
/// <c>--json</c>. Exit codes: 0 healthy, 1 not healthy (a roster replica down, a silo not answering, a replica
/// lagging, a silo's log failing), 2 bad input, 5 the cluster could not be reached.
/// </summary>
internal static class StatusCommand
{
    internal static readonly JsonSerializerOptions Json = new()
    {
        WriteIndented = true,
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    public static Command Create()
    {
        var clustering = new Option<ClusteringKind>("--clustering")
        {
            Description = "Where silos keep membership: localhost (gateways on 127.0.0.1), redis or postgres.",
            DefaultValueFactory = _ => ClusteringKind.Localhost,
        };
        var gatewayPorts = new Option<int[]>("--gateway-port")
        {
            Description = $"Localhost clustering: gateway port(s) of the silos (default {StatusConnection.DefaultGatewayPort}).",
            DefaultValueFactory = _ => [StatusConnection.DefaultGatewayPort],
            AllowMultipleArgumentsPerToken = true,
        };
        var connectionString = new Option<string?>("--connection-string")
        {
            Description = "Redis: a StackExchange.Redis configuration (host:6379,password=...); postgres: an Npgsql connection string.",
        };
        var clusterId = new Option<string>("--cluster-id")
        {
            Description = "Orleans ClusterId of the deployment.",
            DefaultValueFactory = _ => StatusConnection.DefaultClusterId,
        };
        var serviceId = new Option<string>("--service-id")
        {
            Description = "Orleans ServiceId of the deployment.",
            DefaultValueFactory = _ => StatusConnection.DefaultClusterId,
        };
        var timeout = new Option<double>("--timeout")
        {
            Description = "Seconds each silo may take to answer.",
            DefaultValueFactory = _ => ReplicatedClusterStatusExtensions.DefaultTimeout.TotalSeconds,
        };
        var json = new Option<bool>("--json") { Description = "Print the status as JSON (for scripts)." };
        var status = new Command("status", "Show a running cluster's replica roster, silos, leaders, lagging replicas and pending replacements.")
        {
            clustering, gatewayPorts, connectionString, clusterId, serviceId, timeout, json,
        };
        status.SetAction((parse, cancellationToken) =>
        {
            var connection = new StatusConnection(
                parse.GetValue(clustering), parse.GetValue(clusterId)!, parse.GetValue(serviceId)!, parse.GetValue(gatewayPorts)!, parse.GetValue(connectionString));
            var output = parse.InvocationConfiguration.Output;
            var error = parse.InvocationConfiguration.Error;
            double seconds = parse.GetValue(timeout);
            if (connection.Problem() is { } problem || (problem = seconds > 0 ? null : $"--timeout must be positive (got {seconds})") is not null)
            {
                error.WriteLine($"openreplica: {problem}");
                return Task.FromResult(ExitCodes.BadInput);
            }
            return RunAsync(connection, TimeSpan.FromSeconds(seconds), parse.GetValue(json), output, error, cancellationToken);
        });
        return status;
    }

    internal static async Task<int> RunAsync(StatusConnection connection, TimeSpan timeout, bool json, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        IHost host;
        try
        {
            host = await connection.ConnectAsync(error, cancellationToken);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            error.WriteLine($"openreplica: cannot reach the cluster ({connection.Clustering}, cluster id '{connection.ClusterId}'): {e.Message}");
            return ExitCodes.Unreachable;
        }

        try
        {
            var grains = host.Services.GetRequiredService<IGrainFactory>();
            var status = await grains.GetReplicatedClusterStatusAsync(timeout);
            if (json) output.WriteLine(JsonSerializer.Serialize(new { status.Healthy, status.ReplacementPending, status.RebalancePending, status.LogFailing, Status = status }, Json));
            else Print(status, output);
            return status.Healthy ? ExitCodes.Ok : ExitCodes.Failed;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            error.WriteLine($"openreplica: the cluster did not answer the status query: {e.Message}");
            return ExitCodes.Unreachable;
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            try
            {
                await host.StopAsync(stop.Token);
            }
            catch (OperationCanceledException)
            {
            }
            host.Dispose();
        }
    }

    /// <summary>"ok", or why the silo's log is failing and that its grains are served elsewhere meanwhile.</summary>
    private static string LogCell(SiloReplicationStatus s) => s.LogFailure is { } failure
        ? $"[red]failing: {Markup.Escape(failure)}[/] (activations elsewhere)"
        : s.HostsActivations ? "ok" : "[yellow]recovering[/] (activations elsewhere for a few seconds)";

    private static void Print(ReplicatedClusterStatus status, TextWriter output)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(output),
            Ansi = output == Console.Out ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = output == Console.Out ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
        });
        if (output != Console.Out || Console.IsOutputRedirected) console.Profile.Width = 200;
        console.MarkupLine(status.Healthy ? "[green]healthy[/]" : "[red]NOT healthy[/]");
        console.WriteLine($"roster version {status.RosterVersion} (meta-group slot), {status.Roster.Length} replicas" +
            (status.ReplacementPending ? "; replacement pending: a roster replica runs on no live silo" : "; no replacement pending"));
        if (status.LogFailing) console.MarkupLine("[red]a silo's write-ahead log is failing[/]: its grains are served from their other replica silos (see the log column)");
        console.WriteLine(status.RebalancePending
            ? "rebalance pending: groups are moving to their replica sets in the current roster (grains keep working)"
            : "rebalance: every group is on its replica set");

        var roster = new Table().AddColumns("replica", "silo", "live");
        foreach (var m in status.Roster) roster.AddRow(m.ReplicaId.ToString(), Markup.Escape(m.Silo ?? "-"), m.Live ? "yes" : "[red]no[/]");
        console.Write(roster);

        // Two tables (identity, then groups) so each fits a terminal; a redirected output gets a wide page.
        var silos = new Table().AddColumns("silo", "replica", "identity", "mode", "data directory", "in roster", "log");
        var groups = new Table().AddColumns("silo", "held", "active", "evicted", "led", "rebalanced at", "misplaced", "moves ok/failed");
        foreach (var s in status.Silos)
        {
            silos.AddRow(Markup.Escape(s.Silo), s.ReplicaId.ToString(), s.ReplicaIdentity.ToString(), s.Mode.ToString(),
                Markup.Escape(s.DataDirectory ?? "-") + (s.Restored ? " (restored)" : ""), s.InRoster ? "yes" : "no", LogCell(s));
            groups.AddRow(Markup.Escape(s.Silo), s.GroupsHeld.ToString(), s.GroupsActive.ToString(), s.GroupsEvicted.ToString(), s.GroupsLed.ToString(),
                s.RebalancedRosterVersion < 0 ? "-" : s.RebalancedRosterVersion.ToString(), s.GroupsMisplaced.ToString(), $"{s.MovesCompleted}/{s.MovesFailed}");
        }
        console.Write(silos);
        console.Write(groups);

        var leaders = new Table().AddColumns("group", "leader", "silo", "commit index", "members");
        foreach (var l in status.Leaders)
        {
            leaders.AddRow(Markup.Escape(l.Group), l.ReplicaId.ToString(), Markup.Escape(l.Silo), l.CommitIndex.ToString(), string.Join(" ", l.Members));
        }
        console.Write(leaders);

        if (status.Lagging.Length == 0) console.WriteLine("lagging replicas: none");
        else
        {
            var lagging = new Table().AddColumns("group", "replica", "silo", "known slot", "leader commit");
            foreach (var l in status.Lagging)
            {
                lagging.AddRow(Markup.Escape(l.Group), l.ReplicaId.ToString(), Markup.Escape(l.Silo ?? "down"), l.KnownSlot.ToString(), l.LeaderCommitIndex.ToString());
            }
            console.Write(lagging);
        }
        foreach (var u in status.Unreachable) console.MarkupLine($"[red]unreachable[/] {Markup.Escape(u)}");
    }
}

using System.Globalization;
using System.Text.Json;

namespace OpenReplica.Deploy.Tests;

/// <summary>
/// What an operator sees of a running deployment (three silo processes, Redis clustering): <c>openreplica status</c>
/// connects through the same membership store and reports a healthy cluster, and each silo's Prometheus endpoint
/// serves OpenReplica's instruments, whose counts add up to the workload that ran.
/// </summary>
public sealed class OperateTests
{
    private const int Adds = 12;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(110);

    [Fact(Timeout = 120_000)]
    public async Task Status_command_and_prometheus_scrape_show_a_running_redis_cluster()
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        budget.CancelAfter(Budget);
        string redis = await Services.RequireRedisAsync(budget.Token);
        await using var cluster = SiloProcessCluster.Create(
            ClusteringKind.Redis, redis, s => Services.ForgetRedisClusterAsync(s.ServiceId, s.ClusterId));
        try
        {
            await cluster.StartSilosAsync([1, 2, 3], budget.Token);
            await cluster.StartClientAsync(budget.Token);
            var counter = cluster.Client.GetGrain<ICounterGrain>("operate");
            for (int i = 0; i < Adds; i++) await counter.Add(1);

            // openreplica status --clustering redis ... --json, as an operator would run it.
            string[] args = ["status", "--clustering", "redis", "--connection-string", redis,
                "--cluster-id", cluster.Settings.ClusterId, "--service-id", cluster.Settings.ServiceId, "--json"];
            var (code, json, error) = await RunCliAsync(args);
            Assert.True(code == Cli.ExitCodes.Ok, $"openreplica status exited {code}: {error}\n{json}");
            using var document = JsonDocument.Parse(json);
            var status = document.RootElement.GetProperty("status");
            Assert.True(document.RootElement.GetProperty("healthy").GetBoolean());
            Assert.Equal(3, status.GetProperty("silos").GetArrayLength());
            Assert.Equal(3, status.GetProperty("roster").GetArrayLength());
            Assert.All(status.GetProperty("silos").EnumerateArray(), s => Assert.Equal("Persisted", s.GetProperty("mode").GetString()));
            Assert.Equal(1, status.GetProperty("silos").EnumerateArray().Sum(s => s.GetProperty("groupsActive").GetInt32()));

            // Every silo serves the instruments; the counts add up to the workload (one activation proposed each add).
            using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(10) };
            var scrapes = await Task.WhenAll(new[] { 1, 2, 3 }.Select(n => http.GetStringAsync(cluster.MetricsUrl(n), budget.Token)));
            Assert.All(scrapes, text =>
            {
                Assert.Contains("openreplica_wal_appends", text);
                Assert.Contains("openreplica_transport_messages", text);
                Assert.Contains("openreplica_groups_held", text);
            });
            Assert.Equal(Adds, scrapes.Sum(text => Value(text, "openreplica_calls_proposed_total")));
            Assert.Equal(Adds, scrapes.Sum(text => Value(text, "openreplica_calls_applied_total")));
        }
        catch (Exception e) when (e is not Xunit.Sdk.SkipException)
        {
            TestContext.Current.TestOutputHelper?.WriteLine(cluster.Logs());
            throw;
        }
    }

    /// <summary>The sum of a metric's samples in Prometheus text format (0 when the silo has none).</summary>
    private static double Value(string scrape, string metric) =>
        scrape.Split('\n')
            .Where(line => line.StartsWith(metric, StringComparison.Ordinal) && (line.Length == metric.Length || line[metric.Length] is ' ' or '{'))
            .Sum(line =>
            {
                string rest = line[metric.Length..];
                if (rest.StartsWith('{')) rest = rest[(rest.IndexOf('}') + 1)..];
                return double.Parse(rest.Trim().Split(' ')[0], CultureInfo.InvariantCulture); // value, then an optional timestamp
            });

    private static Task<(int Code, string Output, string Error)> RunCliAsync(string[] args) => Task.Run(() =>
    {
        var output = new StringWriter();
        var error = new StringWriter();
        int code = Cli.CommandRunner.Run(Cli.Program.CreateRootCommand(), args, output, error);
        return (code, output.ToString(), error.ToString());
    });
}

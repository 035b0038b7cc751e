using System.Net;
using System.Net.Sockets;
using Microsoft.Extensions.Hosting;
using Orleans.Hosting;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

public sealed class HostingTests : IDisposable
{
    private readonly string _directory = Path.Combine(Path.GetTempPath(), "openreplica-tests-" + Guid.NewGuid().ToString("N"));

    public void Dispose()
    {
        if (Directory.Exists(_directory))
        {
            Directory.Delete(_directory, recursive: true);
        }
    }

    [Fact]
    public async Task Replication_factor_other_than_3_5_7_is_rejected_at_start_up()
    {
        var message = await StartFailure(o => o.ReplicationFactor = 4);
        Assert.Contains("ReplicatedGrainsOptions.ReplicationFactor is 4", message);
    }

    [Fact]
    public async Task A_negative_digest_interval_is_rejected_at_start_up()
    {
        var message = await StartFailure(o => o.DigestEveryCommands = -1);
        Assert.Contains("ReplicatedGrainsOptions.DigestEveryCommands is -1", message);
    }

    [Fact]
    public async Task Negative_accept_spares_are_rejected_at_start_up()
    {
        var message = await StartFailure(o => o.AcceptSpares = -1);
        Assert.Contains("ReplicatedGrainsOptions.AcceptSpares is -1; it must be 0 or more", message);
    }

    [Fact]
    public async Task Message_and_call_size_bounds_below_a_kilobyte_are_rejected_at_start_up()
    {
        Assert.Contains("ReplicatedGrainsOptions.TransportMaxBatchBytes is 100; it must be at least 1024", await StartFailure(o => o.TransportMaxBatchBytes = 100));
        Assert.Contains("ReplicatedGrainsOptions.MaxCallBytes is 0; it must be at least 1024", await StartFailure(o => o.MaxCallBytes = 0));
    }

    [Fact]
    public async Task A_negative_decommission_majority_timeout_is_rejected_at_start_up()
    {
        Assert.Contains("ReplicatedGrainsOptions.DecommissionMajorityTimeout is -00:00:01; it must not be negative", await StartFailure(o => o.DecommissionMajorityTimeout = TimeSpan.FromSeconds(-1)));
    }

    [Fact]
    public async Task A_negative_log_memory_budget_is_rejected_at_start_up()
    {
        var message = await StartFailure(o => o.LogMemoryBudget = -1);
        Assert.Contains("ReplicatedGrainsOptions.LogMemoryBudget is -1; it must not be negative", message);
    }

    [Fact]
    public async Task A_decommission_concurrency_of_zero_is_rejected_at_start_up()
    {
        var message = await StartFailure(o => o.DecommissionConcurrency = 0);
        Assert.Contains("ReplicatedGrainsOptions.DecommissionConcurrency is 0; it must be between 1 and 1024", message);
    }

    [Fact]
    public async Task A_rebalance_concurrency_max_of_zero_is_rejected_at_start_up()
    {
        var message = await StartFailure(o => o.RebalanceConcurrencyMax = 0);
        Assert.Contains("ReplicatedGrainsOptions.RebalanceConcurrencyMax is 0; it must be between 1 and 1024", message);
    }

    [Fact]
    public async Task Persisted_without_a_data_directory_is_rejected_at_start_up()
    {
        var message = await StartFailure(o => o.Mode = ReplicationMode.Persisted);
        Assert.Contains("ReplicatedGrainsOptions.Mode is Persisted but ReplicatedGrainsOptions.DataDirectory is not set", message);
    }

    [Fact]
    public async Task A_data_directory_that_cannot_be_written_is_rejected_at_start_up()
    {
        Directory.CreateDirectory(_directory);
        var file = Path.Combine(_directory, "not-a-directory");
        await File.WriteAllTextAsync(file, "x", TestContext.Current.CancellationToken);

        var message = await StartFailure(o => o.DataDirectory = Path.Combine(file, "data"));
        Assert.Contains($"ReplicatedGrainsOptions.DataDirectory '{Path.Combine(file, "data")}' is not writable", message);
    }

    [Fact]
    public async Task Client_retry_options_are_validated_at_start_up()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client
            .UseLocalhostClustering(FreePort())
            .UseReplicatedGrains(o => o.MaxRetries = -1));
        using var host = builder.Build();

        var exception = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains("ReplicatedClientOptions.MaxRetries is -1", Flatten(exception));
    }

    [Fact]
    public async Task Client_call_deadline_is_validated_at_start_up()
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleansClient(client => client
            .UseLocalhostClustering(FreePort())
            .UseReplicatedGrains(o => o.CallDeadline = TimeSpan.FromMilliseconds(300)));
        using var host = builder.Build();

        var exception = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.Contains("ReplicatedClientOptions.MaxBackoff (00:00:00.5000000) must be shorter than ReplicatedClientOptions.CallDeadline", Flatten(exception));
    }

    [Fact]
    public async Task Client_gateway_probe_settings_are_validated_at_start_up()
    {
        foreach (var (configure, expected) in new (Action<ReplicatedClientOptions>, string)[]
        {
            (o => o.GatewayProbeAfter = TimeSpan.FromSeconds(-1), "ReplicatedClientOptions.GatewayProbeAfter is -00:00:01; it must be zero (off) or positive and finite"),
            (o => o.GatewayProbeTimeout = TimeSpan.Zero, "ReplicatedClientOptions.GatewayProbeTimeout is 00:00:00; it must be positive and finite"),
        })
        {
            var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
            builder.UseOrleansClient(client => client.UseLocalhostClustering(FreePort()).UseReplicatedGrains(configure));
            using var host = builder.Build();
            var exception = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));
            Assert.Contains(expected, Flatten(exception));
        }
    }

    [Fact]
    public async Task A_negative_gateway_send_timeout_is_rejected_at_start_up()
    {
        Assert.Contains("ReplicatedGrainsOptions.GatewaySendTimeout is -00:00:01; it must be zero",
            await StartFailure(o => o.GatewaySendTimeout = TimeSpan.FromSeconds(-1)));
    }

    [Fact]
    public void Replica_identity_is_created_once_and_read_back()
    {
        var first = ReplicaIdentity.LoadOrCreate(_directory);
        var second = ReplicaIdentity.LoadOrCreate(_directory);
        Assert.Equal(first, second);
        Assert.NotEqual(Guid.Empty, first);

        File.WriteAllText(Path.Combine(_directory, ReplicaIdentity.FileName), "garbage");
        var exception = Assert.Throws<InvalidDataException>(() => ReplicaIdentity.LoadOrCreate(_directory));
        Assert.Contains("garbage", exception.Message);
    }

    [Fact]
    public async Task A_data_directory_of_another_cluster_is_refused_at_start_naming_both_clusters()
    {
        // First start records the cluster id ("default", UseLocalhostClustering's default) in the directory.
        ClusterIdFile.CheckOrRecord(_directory, "payments-prod");

        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleans(silo => silo
            .UseLocalhostClustering(FreePort(), FreePort())
            .AddReplicatedGrains(o => o.DataDirectory = _directory));
        using var host = builder.Build();

        var exception = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));
        string message = Flatten(exception);
        Assert.Contains("belongs to cluster 'payments-prod'", message);
        Assert.True(message.Contains("configured for cluster 'default'"), message);
        Assert.False(File.Exists(Path.Combine(_directory, ReplicaIdentity.FileName)), "a replica identity was created in the foreign directory");
    }

    [Fact]
    public void Cluster_id_file_is_recorded_once_and_damage_is_named()
    {
        ClusterIdFile.CheckOrRecord(_directory, "a");
        ClusterIdFile.CheckOrRecord(_directory, "a");
        Assert.Throws<InvalidOperationException>(() => ClusterIdFile.CheckOrRecord(_directory, "b"));

        File.WriteAllText(Path.Combine(_directory, ClusterIdFile.FileName), "openreplica-cluster-id-v1\n");
        var exception = Assert.Throws<InvalidDataException>(() => ClusterIdFile.CheckOrRecord(_directory, "a"));
        Assert.Contains(ClusterIdFile.FileName, exception.Message);
    }

    private static async Task<string> StartFailure(Action<ReplicatedGrainsOptions> configure)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.UseOrleans(silo => silo
            .UseLocalhostClustering(FreePort(), FreePort())
            .AddReplicatedGrains(configure));
        using var host = builder.Build();

        var exception = await Assert.ThrowsAnyAsync<Exception>(() => host.StartAsync(TestContext.Current.CancellationToken));
        Assert.True(Chain(exception).Any(e => e is OrleansConfigurationException), Flatten(exception));
        return Flatten(exception);
    }

    private static string Flatten(Exception exception) =>
        exception is AggregateException aggregate
            ? string.Join(" | ", aggregate.InnerExceptions.Select(Flatten))
            : exception.InnerException is null ? exception.Message : exception.Message + " | " + Flatten(exception.InnerException);

    private static IEnumerable<Exception> Chain(Exception exception) =>
        exception is AggregateException aggregate
            ? aggregate.InnerExceptions.SelectMany(Chain)
            : exception.InnerException is null ? [exception] : [exception, .. Chain(exception.InnerException)];

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}

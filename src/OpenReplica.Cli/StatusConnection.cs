using System.Net;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using Orleans.Configuration;
using Orleans.Hosting;

namespace OpenReplica.Cli;

/// <summary>Where the cluster's membership lives, as in samples/Deploy.</summary>
internal enum ClusteringKind
{
    Localhost,
    Redis,
    Postgres,
}

/// <summary>How <c>openreplica status</c> reaches the cluster: the same clustering settings as the silos (samples/Deploy).</summary>
internal sealed record StatusConnection(
    ClusteringKind Clustering,
    string ClusterId,
    string ServiceId,
    int[] GatewayPorts,
    string? ConnectionString)
{
    public const string DefaultClusterId = "openreplica";
    public const int DefaultGatewayPort = 30000;

    /// <summary>The ADO.NET invariant Orleans maps to Npgsql's provider factory.</summary>
    private const string PostgresInvariant = "Npgsql";

    /// <summary>The first problem with the settings, or null.</summary>
    public string? Problem() => Clustering switch
    {
        ClusteringKind.Redis or ClusteringKind.Postgres when string.IsNullOrWhiteSpace(ConnectionString) =>
            $"--connection-string is required with --clustering {Clustering.ToString().ToLowerInvariant()}",
        ClusteringKind.Localhost when GatewayPorts.Any(p => p is <= 0 or > 65535) =>
            $"--gateway-port must be between 1 and 65535 (got {string.Join(", ", GatewayPorts)})",
        _ => null,
    };

    /// <summary>Starts an Orleans client of the cluster (quiet: warnings and errors only, to the given writer).</summary>
    public async Task<IHost> ConnectAsync(TextWriter log, CancellationToken cancellationToken)
    {
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.ClearProviders();
        builder.Logging.AddProvider(new OneLineLoggerProvider(log));
        builder.Logging.SetMinimumLevel(LogLevel.Error);
        builder.UseOrleansClient(client =>
        {
            client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (ClusterId, ServiceId));
            switch (Clustering)
            {
                case ClusteringKind.Localhost:
                    client.UseStaticClustering([.. GatewayPorts.Select(p => new IPEndPoint(IPAddress.Loopback, p))]);
                    break;
                case ClusteringKind.Redis:
                    client.UseRedisClustering(ConnectionString!);
                    break;
                case ClusteringKind.Postgres:
                    client.UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = (PostgresInvariant, ConnectionString!));
                    break;
            }
            // A status query is read-only: no retries of our own, and no long wait for an answer.
            client.Services.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(30));
        });
        var host = builder.Build();
        await host.StartAsync(cancellationToken);
        return host;
    }
}

/// <summary>Writes Orleans' errors in one line each (no stack traces): the tool's own messages stay readable.</summary>
internal sealed class OneLineLoggerProvider(TextWriter writer) : ILoggerProvider
{
    public ILogger CreateLogger(string categoryName) => new OneLineLogger(writer);

    public void Dispose()
    {
    }

    private sealed class OneLineLogger(TextWriter writer) : ILogger
    {
        public IDisposable? BeginScope<TState>(TState state)
            where TState : notnull => null;

        public bool IsEnabled(LogLevel logLevel) => logLevel >= LogLevel.Error;

        public void Log<TState>(LogLevel logLevel, EventId eventId, TState state, Exception? exception, Func<TState, Exception?, string> formatter)
        {
            if (!IsEnabled(logLevel)) return;
            lock (writer) writer.WriteLine($"openreplica: orleans: {formatter(state, exception)}");
        }
    }
}

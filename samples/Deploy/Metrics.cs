using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using OpenReplica.Orleans;
using OpenTelemetry.Metrics;

namespace OpenReplica.Deploy;

/// <summary>Exposes the silo's metrics for Prometheus to scrape (OpenTelemetry's Prometheus exporter).</summary>
public static class Metrics
{
    /// <summary>Orleans' own meter, exported next to OpenReplica's.</summary>
    public const string OrleansMeterName = "Microsoft.Orleans";

    /// <summary>Serves OpenReplica's and Orleans' instruments at <c>http://HOST:PORT/metrics</c>.</summary>
    public static void AddPrometheusMetrics(this HostApplicationBuilder builder, string host, int port) =>
        builder.Services.AddOpenTelemetry().WithMetrics(metrics => metrics
            .AddMeter(OpenReplicaTelemetry.MeterName, OrleansMeterName)
            .AddPrometheusHttpListener(o =>
            {
                o.Host = host;
                o.Port = port;
                o.ScrapeResponseCacheDurationMilliseconds = 0; // every scrape sees the latest values
            }));
}

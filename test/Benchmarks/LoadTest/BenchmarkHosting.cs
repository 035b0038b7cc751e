using System.Net;
using Microsoft.Extensions.Logging;
using OpenReplica.LoadTest.External;
using OpenReplica.Orleans;
using Orleans.Configuration;

namespace OpenReplica.LoadTest;

/// <summary>What one benchmark silo is: its ports, its cluster, and how it replicates.</summary>
internal sealed record SiloSpec(
    int Index,
    int SiloPort,
    int GatewayPort,
    int PrimaryPort,
    string ClusterId,
    ReplicationMode Mode,
    string? DataDirectory,
    int Replicas,
    TimeSpan Lease = default,
    long? LogMemoryBudget = null,
    int? AcceptSpares = null);

/// <summary>
/// The silo and client configuration every benchmark cluster shares, in-process (<see cref="LocalCluster"/>) or one
/// process per silo (<see cref="ProcessCluster"/>), so both measure the same settings.
/// </summary>
internal static class BenchmarkHosting
{
    public const string ServiceId = "openreplica-loadtest";

    /// <summary>
    /// A fresh cluster id per cluster: the random part comes first, so a long <paramref name="kind"/> cannot cut it off
    /// (clusters of the same kind would then share one membership table in an external store, dead silos included).
    /// </summary>
    public static string NewClusterId(string kind) => $"lt-{Guid.NewGuid():N}"[..15] + "-" + (kind.Length > 32 ? kind[..32] : kind);

    /// <summary>Loopback ports free right now (the external systems' helper, so there is one way to pick ports).</summary>
    public static int[] FreePorts(int count) => LoopbackPorts.Free(count);

    /// <summary>Warnings and errors only, and to a file: the console belongs to the progress display and the report.</summary>
    public static void Logging(ILoggingBuilder logging, ILoggerProvider provider)
    {
        logging.ClearProviders();
        logging.SetMinimumLevel(LogLevel.Warning);
        logging.AddProvider(provider);
    }

    public static ISiloBuilder ConfigureBenchmarkSilo(this ISiloBuilder silo, SiloSpec spec)
    {
        silo.UseLocalhostClustering(spec.SiloPort, spec.GatewayPort, new IPEndPoint(IPAddress.Loopback, spec.PrimaryPort), ServiceId, spec.ClusterId);
        silo.Configure<SiloOptions>(o => o.SiloName = $"silo-{spec.Index}");
        silo.Configure<ClusterMembershipOptions>(LocalCluster.FastMembership);
        silo.AddReplicatedGrains(o =>
        {
            o.ReplicationFactor = spec.Replicas;
            o.Mode = spec.Mode;
            o.CallTimeout = LocalCluster.CallTimeout;
            o.DataDirectory = spec.Mode == ReplicationMode.Persisted ? spec.DataDirectory : null;
            o.LeaseDuration = spec.Lease;
            if (spec.LogMemoryBudget is { } budget) o.LogMemoryBudget = budget;
            if (spec.AcceptSpares is { } spares) o.AcceptSpares = spares;
            // OPENREPLICA_WARM_UP=0 (inherited by the silo processes): silos start without the warm-up, to measure it.
            if (Environment.GetEnvironmentVariable("OPENREPLICA_WARM_UP") == "0") o.WarmUpAtStart = false;
        });
        return silo;
    }

    public static IClientBuilder ConfigureBenchmarkClient(this IClientBuilder client, int[] gatewayPorts, string clusterId)
    {
        client.UseLocalhostClustering(gatewayPorts, ServiceId, clusterId);
        client.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromMilliseconds(500));
        // The library's defaults (ReplicatedClientOptions, Orleans' 30 s ResponseTimeout): a call in flight to a silo
        // that dies is retried with its stamp as soon as the client learns of the loss, not after a timeout.
        client.UseReplicatedGrains();
        return client;
    }
}

namespace OpenReplica.Deploy;

/// <summary>Which membership store silos and clients find each other through.</summary>
public enum ClusteringKind
{
    /// <summary>Development only: every silo on this machine, silo 1's port is the primary (no external store).</summary>
    Localhost,

    /// <summary>Orleans membership in Redis (<c>Microsoft.Orleans.Clustering.Redis</c>).</summary>
    Redis,

    /// <summary>Orleans membership in PostgreSQL through ADO.NET (<c>Microsoft.Orleans.Clustering.AdoNet</c> + Npgsql).</summary>
    Postgres,
}

/// <summary>
/// The <c>Deploy</c> configuration section of the silo host (appsettings.json, <c>--config FILE</c>, environment
/// variables <c>Deploy__Name</c>, command line switches). Replicated-grain options are the <c>Replication</c> section.
/// </summary>
public sealed class DeploySettings
{
    public const string Section = "Deploy";

    public ClusteringKind Clustering { get; set; } = ClusteringKind.Localhost;

    /// <summary>Orleans ClusterId: silos and clients of one deployment share it.</summary>
    public string ClusterId { get; set; } = "openreplica";

    /// <summary>Orleans ServiceId: stable across redeployments of the same service.</summary>
    public string ServiceId { get; set; } = "openreplica";

    /// <summary>Silo name (logs, membership table); defaults to the host name and silo port.</summary>
    public string? SiloName { get; set; }

    /// <summary>
    /// The IP address other silos and clients reach this silo at (published in the membership store). Defaults to
    /// 127.0.0.1 for localhost clustering and to the host's first non-loopback IPv4 address otherwise.
    /// </summary>
    public string? AdvertisedAddress { get; set; }

    /// <summary>Address to bind the silo and gateway ports to (default: all interfaces).</summary>
    public string? ListenAddress { get; set; }

    public int SiloPort { get; set; } = 11111;

    public int GatewayPort { get; set; } = 30000;

    /// <summary>Localhost clustering only: the silo port of the primary silo (the first one).</summary>
    public int PrimarySiloPort { get; set; } = 11111;

    /// <summary>Redis clustering: a StackExchange.Redis configuration string, e.g. <c>redis.internal:6379,password=...</c>.</summary>
    public string? Redis { get; set; }

    /// <summary>Postgres clustering: an Npgsql connection string to a database holding Orleans' clustering schema.</summary>
    public string? Postgres { get; set; }

    /// <summary>
    /// When set, the silo serves its metrics (OpenReplica's and Orleans' meters) in Prometheus text format at
    /// <c>http://METRICSHOST:PORT/metrics</c>.
    /// </summary>
    public int? MetricsPort { get; set; }

    /// <summary>The host name or IP address the metrics endpoint binds to (a Prometheus server elsewhere needs a reachable one).</summary>
    public string MetricsHost { get; set; } = "localhost";

    /// <summary>Declare a dead silo within a few seconds instead of Orleans' defaults (tests and demos; noisy on real networks).</summary>
    public bool FastFailureDetection { get; set; }

    /// <summary>
    /// Let membership declare a paused silo (SIGSTOP, a long GC or VM stall) dead: turns off indirect probes and the
    /// connection liveness check, which otherwise vouch for a silo whose process is stopped but whose sockets are open.
    /// Not yet measured by a chaos run (docs/reliability.md).
    /// </summary>
    public bool DetectPauses { get; set; }

    /// <summary>
    /// A PKCS#12 (.pfx) file with a certificate and its private key: turns on mutual TLS for silo-to-silo and
    /// client-to-gateway traffic (see <see cref="Tls"/>). Every silo and client of the deployment needs it.
    /// </summary>
    public string? TlsCertificate { get; set; }

    /// <summary>Password of <see cref="TlsCertificate"/> (put it in the environment, Deploy__TlsPassword, not on the command line).</summary>
    public string? TlsPassword { get; set; }

    /// <summary>Exit when standard input closes: a parent process that starts silos as children keeps them from outliving it.</summary>
    public bool ExitWhenStdinCloses { get; set; }

    /// <summary>Checks that the settings the chosen clustering needs are present; returns the problems.</summary>
    public IEnumerable<string> Validate()
    {
        if (Clustering == ClusteringKind.Redis && string.IsNullOrWhiteSpace(Redis))
        {
            yield return "Deploy:Redis (--redis) is required with redis clustering, e.g. --redis 127.0.0.1:6379";
        }

        if (Clustering == ClusteringKind.Postgres && string.IsNullOrWhiteSpace(Postgres))
        {
            yield return "Deploy:Postgres (--postgres) is required with postgres clustering, e.g. --postgres \"Host=db;Database=orleans;Username=orleans;Password=...\"";
        }

        if (SiloPort is <= 0 or > 65535 || GatewayPort is <= 0 or > 65535)
        {
            yield return $"ports must be between 1 and 65535 (silo {SiloPort}, gateway {GatewayPort})";
        }

        if (MetricsPort is <= 0 or > 65535)
        {
            yield return $"Deploy:MetricsPort must be between 1 and 65535 (got {MetricsPort})";
        }

        if (TlsPassword is not null && string.IsNullOrWhiteSpace(TlsCertificate))
        {
            yield return "Deploy:TlsPassword is set but Deploy:TlsCertificate (--tls-cert) is not";
        }

        if (AdvertisedAddress is { } a && !System.Net.IPAddress.TryParse(a, out _))
        {
            yield return $"Deploy:AdvertisedAddress '{a}' is not an IP address";
        }

        if (ListenAddress is { } l && !System.Net.IPAddress.TryParse(l, out _))
        {
            yield return $"Deploy:ListenAddress '{l}' is not an IP address";
        }
    }
}

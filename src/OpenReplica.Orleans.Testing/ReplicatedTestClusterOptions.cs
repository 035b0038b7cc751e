using Orleans.Hosting;

namespace OpenReplica.Orleans.Testing;

/// <summary>Settings of a <see cref="ReplicatedTestCluster"/>.</summary>
public sealed class ReplicatedTestClusterOptions
{
    /// <summary>Default for <see cref="Silos"/>.</summary>
    public const int DefaultSilos = 3;

    /// <summary>Default for <see cref="CallTimeout"/>: short, so a test with a dead majority fails fast.</summary>
    public static readonly TimeSpan DefaultCallTimeout = TimeSpan.FromSeconds(5);

    /// <summary>Silos started by <see cref="ReplicatedTestCluster.StartAsync"/> (at least the replication factor).</summary>
    public int Silos { get; set; } = DefaultSilos;

    /// <summary>
    /// <see cref="ReplicationMode.Volatile"/> (memory only) or <see cref="ReplicationMode.Persisted"/> (each silo gets a
    /// data directory under <see cref="ReplicatedTestCluster.DataRoot"/>, deleted when the cluster is disposed; a
    /// restarted silo keeps its directory, so it comes back as the same replica).
    /// </summary>
    public ReplicationMode Mode { get; set; } = ReplicationMode.Volatile;

    /// <summary>Replicas per grain (<see cref="ReplicatedGrainsOptions.ReplicationFactor"/>).</summary>
    public int ReplicationFactor { get; set; } = ReplicatedGrainsOptions.DefaultReplicationFactor;

    /// <summary>The silos' <see cref="ReplicatedGrainsOptions.CallTimeout"/>; the client's response timeout is 2 s more.</summary>
    public TimeSpan CallTimeout { get; set; } = DefaultCallTimeout;

    /// <summary>More replication settings, applied after the ones above.</summary>
    public Action<ReplicatedGrainsOptions>? ConfigureReplication { get; set; }

    /// <summary>More silo configuration (grain services, filters, your own DI registrations).</summary>
    public Action<ISiloBuilder>? ConfigureSilo { get; set; }

    /// <summary>More client configuration.</summary>
    public Action<IClientBuilder>? ConfigureClient { get; set; }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first invalid setting.</summary>
    public void Validate()
    {
        if (Silos < 1)
        {
            throw new ArgumentException($"ReplicatedTestClusterOptions.Silos must be at least 1; got {Silos}.", nameof(Silos));
        }

        if (ReplicationFactor > Silos)
        {
            throw new ArgumentException(
                $"ReplicatedTestClusterOptions.ReplicationFactor ({ReplicationFactor}) needs at least as many Silos; got {Silos}.", nameof(ReplicationFactor));
        }

        if (CallTimeout <= TimeSpan.Zero)
        {
            throw new ArgumentException($"ReplicatedTestClusterOptions.CallTimeout must be positive; got {CallTimeout}.", nameof(CallTimeout));
        }
    }
}

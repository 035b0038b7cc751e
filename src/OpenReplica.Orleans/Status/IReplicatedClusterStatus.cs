namespace OpenReplica.Orleans;

/// <summary>
/// The cluster's replication status, for tools and health checks. Reach it from a client or a grain with
/// <c>grainFactory.GetReplicatedClusterStatusAsync()</c> (or <c>GetGrain&lt;IReplicatedClusterStatus&gt;(0)</c>).
/// The silo that receives the call asks every live silo and aggregates their answers.
/// </summary>
[Alias("OpenReplica.Orleans.IReplicatedClusterStatus")]
public interface IReplicatedClusterStatus : IGrainWithIntegerKey
{
    /// <summary>Asks every live silo (each answer bounded by <paramref name="timeout"/>) and aggregates.</summary>
    [Alias("GetStatusAsync")]
    Task<ReplicatedClusterStatus> GetStatusAsync(TimeSpan timeout);
}

/// <summary>Reaches <see cref="IReplicatedClusterStatus"/>.</summary>
public static class ReplicatedClusterStatusExtensions
{
    /// <summary>How long each silo may take to answer, by default.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromSeconds(5);

    /// <summary>The cluster's replication status now (see <see cref="ReplicatedClusterStatus"/>).</summary>
    public static Task<ReplicatedClusterStatus> GetReplicatedClusterStatusAsync(this IGrainFactory grains, TimeSpan? timeout = null) =>
        grains.GetGrain<IReplicatedClusterStatus>(0).GetStatusAsync(timeout ?? DefaultTimeout);
}

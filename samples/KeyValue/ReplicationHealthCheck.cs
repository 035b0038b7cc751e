using Microsoft.Extensions.Diagnostics.HealthChecks;
using OpenReplica.Orleans;

namespace OpenReplica.Samples.KeyValue;

/// <summary>
/// ASP.NET Core health check on the cluster's replication status: Healthy when every roster replica runs and none
/// lags; Degraded while a replica is down, lagging or a silo does not answer (the grains still work on a majority);
/// Unhealthy when the status cannot be read.
/// </summary>
public sealed class ReplicationHealthCheck(IClusterClient orleans) : IHealthCheck
{
    public async Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        try
        {
            var status = await orleans.GetReplicatedClusterStatusAsync().WaitAsync(cancellationToken);
            var data = new Dictionary<string, object>
            {
                ["rosterVersion"] = status.RosterVersion,
                ["silos"] = status.Silos.Length,
                ["lagging"] = status.Lagging.Length,
                ["replacementPending"] = status.ReplacementPending,
            };
            if (status.Healthy) return HealthCheckResult.Healthy($"{status.Silos.Length} silos, roster version {status.RosterVersion}", data);
            string why = status.ReplacementPending ? "a roster replica is down"
                : status.Unreachable.Length > 0 ? $"{status.Unreachable.Length} silo(s) did not answer"
                : $"{status.Lagging.Length} replica(s) lag behind their leader";
            return HealthCheckResult.Degraded(why, data: data);
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return HealthCheckResult.Unhealthy("the replication status could not be read", e);
        }
    }
}

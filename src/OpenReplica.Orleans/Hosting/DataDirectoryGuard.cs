using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans;
using Orleans.Configuration;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Refuses the operator mistakes that would let two acceptors vote under one identity, or one acceptor vote in two
/// clusters: at start it checks the data directory's cluster id (<see cref="ClusterIdFile"/>), and once this silo is
/// in membership it asks every other active silo for its replica identity — a data directory copied to a second
/// silo shows up as two silos with one identity, and the silo starting second refuses to run, naming both. Until the
/// check has passed, <see cref="InboundAdmission"/> drops every peer message, so a duplicate never votes.
/// </summary>
internal sealed partial class DataDirectoryGuard(
    IOptions<ReplicatedGrainsOptions> options,
    IOptions<ClusterOptions> cluster,
    ReplicaIdentity identity,
    ReplicaHostClient hosts,
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    ILogger<DataDirectoryGuard> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);
    private volatile bool _verified;

    /// <summary>Whether this silo's identity was checked against the cluster (peer messages are admitted only then).</summary>
    public bool Verified => _verified;

    public void Participate(ISiloLifecycle lifecycle)
    {
        lifecycle.Subscribe(nameof(DataDirectoryGuard), ServiceLifecycleStage.RuntimeInitialize, CheckClusterId, static _ => Task.CompletedTask);
        lifecycle.Subscribe(nameof(DataDirectoryGuard), ServiceLifecycleStage.BecomeActive + 1, CheckUniqueIdentityAsync, static _ => Task.CompletedTask);
    }

    private Task CheckClusterId(CancellationToken cancellationToken)
    {
        if (options.Value.DataDirectory is { } directory) ClusterIdFile.CheckOrRecord(directory, cluster.Value.ClusterId);
        _ = identity.ReplicaId; // read (or create) it now: a damaged identity file stops the silo here, named
        return Task.CompletedTask;
    }

    private async Task CheckUniqueIdentityAsync(CancellationToken cancellationToken)
    {
        if (options.Value.DataDirectory is null)
        {
            _verified = true; // a random identity per process cannot be shared
            return;
        }
        var self = localSilo.SiloAddress;
        foreach (var other in membership.ActivePeers(self))
        {
            ReplicaHostInfo info;
            try
            {
                info = await hosts.For(other).GetInfoAsync().WaitAsync(AskTimeout, cancellationToken);
            }
            catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
            {
                // A silo that cannot answer cannot be voting either; if it comes back, it is the one that checks.
                LogPeerUnreachable(logger, other, e.Message);
                continue;
            }
            if (info.ReplicaId == identity.ReplicaId)
            {
                throw new InvalidOperationException(
                    $"Replica identity {identity.ReplicaId} in data directory '{options.Value.DataDirectory}' of silo {self} is already used by silo {other}. "
                    + "The data directory was copied (or is shared): two replicas under one identity could each vote and lose acknowledged data. "
                    + "Refusing to start; give this silo its own empty data directory (it joins as a new replica).");
            }
        }
        _verified = true;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Could not ask silo {Silo} for its replica identity at start-up: {Reason}")]
    private static partial void LogPeerUnreachable(ILogger logger, SiloAddress silo, string reason);
}

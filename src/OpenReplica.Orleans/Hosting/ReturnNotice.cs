using Microsoft.Extensions.Logging;
using Orleans;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// A silo restarted with its data directory tells every live peer, once its identity is checked and it admits
/// consensus messages, that its replica is back (<see cref="IReplicaHost.ReplicaBackAsync"/>); each peer then tells it
/// the commit index of the groups it leads with it, so groups that went idle while it was away catch up now rather
/// than at their next write. Fire and forget: the silo's start does not wait, and a peer that does not answer (or an
/// older version that lacks the method) only leaves those groups to catch up later.
/// </summary>
internal sealed partial class ReturnNotice(
    ReplicaIdentity identity,
    Replication.ReplicaRoster roster,
    ReplicaHostClient hosts,
    IClusterMembershipService membership,
    ILocalSiloDetails localSilo,
    ILogger<ReturnNotice> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(5);

    public void Participate(ISiloLifecycle lifecycle) =>
        // After DataDirectoryGuard's identity check (BecomeActive + 1): peers' heartbeats are admitted from then on.
        lifecycle.Subscribe(nameof(ReturnNotice), ServiceLifecycleStage.BecomeActive + 2, Start, static _ => Task.CompletedTask);

    private Task Start(CancellationToken cancellationToken)
    {
        // A new identity (first start, or Volatile) belongs to no group yet: nothing to catch up.
        if (identity.Persisted && identity.Restored) _ = Task.Run(TellPeersAsync, CancellationToken.None);
        return Task.CompletedTask;
    }

    private async Task TellPeersAsync()
    {
        var self = localSilo.SiloAddress;
        long replicaId = roster.LocalReplicaId;
        await Task.WhenAll(membership.ActivePeers(self).Select(async peer =>
        {
            try
            {
                await hosts.For(peer).ReplicaBackAsync(replicaId, self).WaitAsync(AskTimeout);
            }
            catch (Exception e)
            {
                LogPeerNotTold(logger, peer, e.Message);
            }
        }));
    }

    [LoggerMessage(Level = LogLevel.Debug, Message = "Could not tell {Silo} that this replica is back (its groups led there catch up at their next write): {Reason}")]
    private static partial void LogPeerNotTold(ILogger logger, SiloAddress silo, string reason);
}

using Microsoft.Extensions.Logging;
using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using Orleans;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// The gate in front of the replication runtime: every batch a peer delivers passes here before any replica sees it.
/// Dropping a consensus message is always safe (the protocol treats it as lost), so anything doubtful is dropped and
/// counted by <see cref="AdmissionRejection"/>:
/// <list type="bullet">
/// <item>a batch from a silo that this silo's membership view does not list as alive (declared dead — for example a
/// leader paused or partitioned past its membership probe that resumed as a zombie — or unknown). Without this a
/// resumed zombie leader keeps renewing its followers' lease promises, so its grains stay unavailable for as long
/// as it lives instead of one lease;</item>
/// <item>a payload that does not decode (a clear <see cref="FormatException"/> is logged), or one addressed to another
/// replica id than this silo's;</item>
/// <item>a message naming a grain group whose replica set does not contain this silo;</item>
/// <item>anything that arrives before <see cref="DataDirectoryGuard"/> has checked that no other silo runs under this
/// silo's replica identity.</item>
/// </list>
/// Membership is used only to refuse, never to vote: refusing is safe whatever the view.
/// </summary>
internal sealed partial class InboundAdmission(
    ReplicationRuntime runtime,
    IClusterMembershipService membership,
    ReplicaRoster roster,
    DataDirectoryGuard guard,
    ILogger<InboundAdmission> logger) : IReplicaMessageSink
{
    private readonly long[] _rejected = new long[Enum.GetValues<AdmissionRejection>().Length];
    private SiloAddress? _lastRejectedSilo;

    /// <summary>Messages dropped for <paramref name="reason"/> since the silo started.</summary>
    public long Rejected(AdmissionRejection reason) => Interlocked.Read(ref _rejected[(int)reason]);

    public void OnMessages(SiloAddress from, IReadOnlyList<ReplicaEnvelopeItem> items)
    {
        if (!guard.Verified)
        {
            // Not yet known to be the only replica with this identity: it must not vote (peers retransmit).
            Count(AdmissionRejection.IdentityUnverified, items.Count);
            return;
        }

        var status = membership.CurrentSnapshot.GetSiloStatus(from);
        if (status is SiloStatus.Dead or SiloStatus.None)
        {
            var reason = status == SiloStatus.Dead ? AdmissionRejection.DeadSilo : AdmissionRejection.UnknownSilo;
            Count(reason, items.Count);
            // Once per sender (a zombie sends every few milliseconds until it stops itself).
            if (!from.Equals(Interlocked.Exchange(ref _lastRejectedSilo, from))) LogSenderRejected(logger, items.Count, from, status);
            return;
        }

        foreach (var item in items)
        {
            if (Admit(from, item) is { } message) runtime.Deliver(from, item.GroupId, message);
        }
    }

    private Message? Admit(SiloAddress from, ReplicaEnvelopeItem item)
    {
        Message message;
        try
        {
            message = WireCodec.DecodeMessage(item.Payload);
        }
        catch (FormatException e)
        {
            Count(AdmissionRejection.Malformed, 1);
            LogMalformed(logger, from, item.GroupId, e.Message);
            return null;
        }

        if (message.To != roster.LocalReplicaId)
        {
            Count(AdmissionRejection.Misaddressed, 1);
            return null;
        }

        if (!MayHoldGroup(item.GroupId))
        {
            Count(AdmissionRejection.ForeignGroup, 1);
            LogForeignGroup(logger, from, item.GroupId);
            return null;
        }

        return message;
    }

    /// <summary>
    /// Whether this silo is, or may be about to become, a replica of the group. The meta group admits any roster
    /// silo and spares (a spare learns it was added from the group's own messages). A grain group is admitted where
    /// this silo already holds a replica of it, or where the genesis, current or a recent roster places it here (a
    /// member the rebalancer is adding, chosen from the roster its driver knew); while the roster is unknown the
    /// runtime resolves it first. Whether a replica starts is then decided by the sender's own view of the group.
    /// </summary>
    private bool MayHoldGroup(string groupId)
    {
        if (groupId == RosterGroup.GroupId) return true;
        // The common case first, and cheap: a replica here already (groups move: their set need not be today's top R).
        if (runtime.Holds(groupId)) return true;
        if (roster.Genesis is null) return true;
        if (!ReplicationRuntime.TryParseGroupId(groupId, out var grainId, out int replicas)) return false;
        long self = roster.LocalReplicaId;
        try
        {
            return roster.GenesisConfigFor(grainId, replicas)!.Contains(self)
                || (roster.TargetConfigFor(grainId, replicas)?.Contains(self) ?? false)
                || roster.PlacedHereRecently(grainId, replicas, self);
        }
        catch (InvalidOperationException)
        {
            return false; // more replicas than the roster has: no silo holds such a group
        }
    }

    private void Count(AdmissionRejection reason, int messages) => Interlocked.Add(ref _rejected[(int)reason], messages);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dropped {Count} consensus messages from {Silo}, which this silo's membership lists as {Status}; messages from it are refused until it rejoins under a new generation")]
    private static partial void LogSenderRejected(ILogger logger, int count, SiloAddress silo, SiloStatus status);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dropped a malformed consensus message from {Silo} for group {GroupId}: {Problem}")]
    private static partial void LogMalformed(ILogger logger, SiloAddress silo, string groupId, string problem);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Dropped a consensus message from {Silo} for group {GroupId}, whose replica set does not include this silo")]
    private static partial void LogForeignGroup(ILogger logger, SiloAddress silo, string groupId);
}

/// <summary>Why <see cref="InboundAdmission"/> dropped a consensus message.</summary>
public enum AdmissionRejection
{
    /// <summary>The sender is declared dead in this silo's membership view (a zombie).</summary>
    DeadSilo,

    /// <summary>The sender is not in this silo's membership view at all.</summary>
    UnknownSilo,

    /// <summary>The payload did not decode as a consensus message.</summary>
    Malformed,

    /// <summary>The message is addressed to another replica id than this silo's.</summary>
    Misaddressed,

    /// <summary>The message names a grain group whose replica set does not include this silo.</summary>
    ForeignGroup,

    /// <summary>This silo has not yet checked that no other silo runs under its replica identity.</summary>
    IdentityUnverified,
}

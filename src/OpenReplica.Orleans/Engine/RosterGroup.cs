using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenReplica.Consensus;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The meta group: a Multi-Paxos group with elections among the roster's replicas, whose configuration IS the
/// roster. Its leader adds a silo that has been live for <see cref="ReplicatedGrainsOptions.RosterSettlingPeriod"/>,
/// removes a member that leaves gracefully or has been gone longer than
/// <see cref="ReplicatedGrainsOptions.ReplacementGracePeriod"/>, one change at a time, through the log; every silo
/// adopts the chosen roster, and the rebalancers then move each group whose replica set changed through the
/// group's own log (<see cref="Rebalancer"/>). Membership views from Orleans only nominate; the log decides.
/// </summary>
internal sealed partial class RosterGroup(
    ReplicaRoster roster,
    IOptions<ReplicatedGrainsOptions> options,
    TimeProvider time,
    ILogger<RosterGroup> logger) : IGroupListener
{
    public const string GroupId = "roster";
    public static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(250);

    // Monotonic timestamps (TimeProvider.GetTimestamp): a wall clock stepped forward must not end a member's grace
    // period (replacing a live member) or a silo's settling period at once.
    private readonly Dictionary<long, long> _goneSince = [];
    private readonly Dictionary<long, long> _liveSince = [];
    private GroupReplica? _group;

    /// <summary>
    /// Core options of the meta group: elections, and a window of 1 so a new roster is in force at the next slot. The
    /// election timeout is 1-2 s (50 ticks, randomized up to twice that), and its leader checks a quorum every 1 s: with
    /// 200 ms (10 ticks) the meta group changed leaders about once a second through a rolling restart of five silos
    /// in one process (session 28: 77 leaderships in one minute), because heartbeats queued behind thousands of
    /// groups' moves for longer than that, and every roster change waited for the next leader. Only roster changes
    /// wait for this group; grain calls never do.
    /// </summary>
    public static ReplicaOptions CoreOptions(long replicaId, ClusterConfig genesis) => new()
    {
        ReplicaId = replicaId,
        InitialConfig = genesis,
        Window = 1,
        ElectionTimeoutTicks = 50,
        HeartbeatTicks = 5,
        RetransmitTicks = 5,
        RandomSeed = (ulong)replicaId,
    };

    public GroupReplica? Group => _group;

    public void Attach(GroupReplica group) => _group = group;

    public void OnReady(Ready ready)
    {
        foreach (var entry in ready.Committed)
        {
            if (entry.Kind == LogValueKind.Config) roster.SetCurrent(entry.Config!, entry.Slot);
        }
        if (ready.SnapshotToInstall is { } snapshot) roster.SetCurrent(snapshot.Configs.Latest, snapshot.Slot);
    }

    public void OnFailed(Exception exception) => LogFailed(logger, exception);

    /// <summary>
    /// Runs on a timer: if this silo leads the meta group, makes at most one roster change, in this order: a member
    /// leaving gracefully goes; a member gone past the grace period goes; a silo live for the settling period joins.
    /// A member goes by replacement with a spare when removing it would leave fewer members than the replication
    /// factor (and stays while there is no spare).
    /// </summary>
    public void CheckRoster()
    {
        if (_group is not { IsLeader: true } group || roster.Current is not { } current) return;
        long now = time.GetTimestamp();
        var spares = roster.Spares();
        foreach (long spare in _liveSince.Keys.Except(spares).ToList()) _liveSince.Remove(spare);
        foreach (long spare in spares) _liveSince.TryAdd(spare, now);
        var settled = spares.Where(s => time.GetElapsedTime(_liveSince[s], now) >= options.Value.RosterSettlingPeriod).ToList();

        if (current.Members.FirstOrDefault(roster.IsLeaving) is > 0 and var leaving)
        {
            Shrink(group, current, leaving, spares, "it is leaving gracefully", graceful: true);
            return;
        }
        foreach (long member in current.Members)
        {
            if (roster.SiloOf(member) is not null)
            {
                _goneSince.Remove(member);
                continue;
            }
            if (!_goneSince.TryGetValue(member, out var since)) _goneSince[member] = since = now;
            if (time.GetElapsedTime(since, now) < options.Value.ReplacementGracePeriod) continue;
            if (Shrink(group, current, member, settled, "it was gone past the grace period")) _goneSince.Remove(member);
            return; // one change at a time
        }
        if (settled.FirstOrDefault() is > 0 and var joining)
        {
            Propose(group, current, current.With(joining), $"replica {joining} has been live for the settling period");
        }
    }

    /// <summary>Removes a member, or replaces it with a spare when the roster would otherwise become too small.</summary>
    private bool Shrink(GroupReplica group, ClusterConfig current, long member, IReadOnlyList<long> spares, string why, bool graceful = false)
    {
        if (current.Members.Count > options.Value.ReplicationFactor)
        {
            Propose(group, current, current.Without(member), $"replica {member} leaves because {why}");
            return true;
        }
        if (spares.FirstOrDefault() is > 0 and var spare)
        {
            LogReplacing(logger, member, spare, current.Replace(member, spare).ToString());
            Propose(group, current, current.Replace(member, spare), $"replica {member} is replaced by {spare} because {why}");
            return true;
        }
        // A silo stopping gracefully in a cluster of exactly R (a whole-cluster stop, a restart for maintenance) stays a
        // member and comes back with its data: nothing is wrong. A dead member that cannot be replaced is.
        if (graceful) LogStaysWhileLeaving(logger, member, options.Value.ReplicationFactor);
        else LogCannotShrink(logger, member, why, options.Value.ReplicationFactor);
        return false;
    }

    private void Propose(GroupReplica group, ClusterConfig current, ClusterConfig next, string why)
    {
        LogProposing(logger, why, next.ToString());
        group.Post(core => core.IsLeader && core.Configs.Latest.Equals(current) ? core.ProposeConfig(next) : new Ready());
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Roster change proposed ({Why}): {Roster}")]
    private static partial void LogProposing(ILogger logger, string why, string roster);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replica {Member} should leave the roster ({Why}) but the roster would drop below {Factor} members and no live spare exists")]
    private static partial void LogCannotShrink(ILogger logger, long member, string why, int factor);

    [LoggerMessage(Level = LogLevel.Information, Message = "Replica {Member} is leaving gracefully but stays in the roster: it would drop below {Factor} members and no live spare exists")]
    private static partial void LogStaysWhileLeaving(ILogger logger, long member, int factor);

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replacing replica {Dead} (gone past the grace period) with {Spare}: roster {Roster}")]
    private static partial void LogReplacing(ILogger logger, long dead, long spare, string roster);

    [LoggerMessage(Level = LogLevel.Error, Message = "The meta group's replica on this silo stopped")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}

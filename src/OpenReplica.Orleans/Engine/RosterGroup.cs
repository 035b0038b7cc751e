using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenReplica.Consensus;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The meta group: a Multi-Paxos group with elections among the roster's replicas, whose configuration IS the
/// roster. Its leader replaces a roster replica whose silo has been gone longer than
/// <see cref="ReplicatedGrainsOptions.ReplacementGracePeriod"/> with a live spare, through the log; every silo
/// adopts the chosen roster, and each grain's leader then moves its own group to the new replica set through its
/// own log (the new replica catches up by snapshot + log). Membership views from Orleans only nominate; the log decides.
/// </summary>
internal sealed partial class RosterGroup(
    ReplicaRoster roster,
    IOptions<ReplicatedGrainsOptions> options,
    TimeProvider time,
    ILogger<RosterGroup> logger) : IGroupListener
{
    public const string GroupId = "roster";
    public static readonly TimeSpan CheckInterval = TimeSpan.FromMilliseconds(250);

    private readonly Dictionary<long, DateTimeOffset> _goneSince = [];
    private GroupReplica? _group;

    /// <summary>Core options of the meta group: elections, and a window of 1 so a new roster is in force at the next slot.</summary>
    public static ReplicaOptions CoreOptions(long replicaId, ClusterConfig genesis) => new()
    {
        ReplicaId = replicaId,
        InitialConfig = genesis,
        Window = 1,
        ElectionTimeoutTicks = 10,
        HeartbeatTicks = 2,
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

    /// <summary>Runs on a timer: if this silo leads the meta group, replace one roster replica gone too long.</summary>
    public void CheckReplacements()
    {
        if (_group is not { IsLeader: true } group || roster.Current is not { } current) return;
        var now = time.GetUtcNow();
        foreach (long member in current.Members)
        {
            if (roster.SiloOf(member) is not null)
            {
                _goneSince.Remove(member);
                continue;
            }
            if (!_goneSince.TryGetValue(member, out var since)) _goneSince[member] = since = now;
            if (now - since < options.Value.ReplacementGracePeriod) continue;
            if (roster.Spares().FirstOrDefault() is not (> 0 and var spare)) return;
            var next = current.Replace(member, spare);
            LogReplacing(logger, member, spare, next.ToString());
            group.Post(core =>
            {
                if (!core.IsLeader || !core.Configs.Latest.Equals(current)) return new Ready();
                return core.ProposeConfig(next);
            });
            _goneSince.Remove(member);
            return; // one change at a time
        }
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Replacing replica {Dead} (gone past the grace period) with {Spare}: roster {Roster}")]
    private static partial void LogReplacing(ILogger logger, long dead, long spare, string roster);

    [LoggerMessage(Level = LogLevel.Error, Message = "The meta group's replica on this silo stopped")]
    private static partial void LogFailed(ILogger logger, Exception exception);
}

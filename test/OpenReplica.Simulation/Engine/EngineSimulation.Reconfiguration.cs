using OpenReplica.Consensus;
using OpenReplica.Orleans;

namespace OpenReplica.Simulation.Engine;

// Reconfiguration (EngineFaultModel.MovedGroups): what the movers, placement and first contact need from the world.
public sealed partial class EngineSimulation
{
    /// <summary>Whether the group moves in this run (its configuration is then the core's, not <see cref="ConfigOf"/>).</summary>
    internal bool Moved(string groupId) => _targets.ContainsKey(groupId);

    /// <summary>The group's replica set: where placement starts its activation (its first configuration unless it moves).</summary>
    internal ClusterConfig TargetOf(string groupId) => _targets.GetValueOrDefault(groupId) ?? ConfigOf(groupId);

    /// <summary>A roster change gives the group a new replica set, in which <paramref name="preferred"/> ranks first.</summary>
    internal void SetTarget(string groupId, ClusterConfig target, long preferred)
    {
        _targets[groupId] = target;
        _preferred[groupId] = preferred;
    }

    /// <summary>Whether the silo stopped for good (a move removes its replica before it adds another, as a silo's rebalancer does for a dead member).</summary>
    internal bool IsGone(long silo) => _silos.Any(s => s.Id == silo && s.Gone);

    /// <summary>Silos that have not stopped for good.</summary>
    internal IEnumerable<long> LiveSiloIds() => _silos.Where(s => !s.Gone).Select(s => s.Id);

    /// <summary>The grain's activation in the directory, if it runs.</summary>
    internal SimActivation? CurrentActivation(string groupId) => _directory.TryGetValue(groupId, out var a) && a.Alive ? a : null;

    /// <summary>
    /// One silo per run may stop for good, while faults run, if enough silos are left for a whole group. It may lead
    /// other moved groups too, one of which may have just removed a member (session 10 spared such leaders until the
    /// removed member waited for the removal to be durable at a majority: engine seed 358).
    /// </summary>
    internal bool MayDecommission(long silo, string groupId) => FaultsOn && _decommissions == 0 && _silos.Count(s => !s.Gone) > Faults.Replicas;

    internal void NoteReAdd() => _reAdds++;

    /// <summary>A drop decided before the group added the silo back, carried out (the old replica retired) or refused (it had learned the configuration).</summary>
    internal void NoteLateDrop(bool carriedOut)
    {
        if (carriedOut) _lateDrops++;
        else _lateDropsRefused++;
    }

    /// <summary>A silo's graceful stop ran out of its deadline: it stops now, with whatever it still led, and never comes back.</summary>
    internal void Decommission(SimSilo silo, string groupId)
    {
        if (silo.Gone || !MayDecommission(silo.Id, groupId)) return;
        _decommissions++;
        FaultsInjected++;
        Trace($"silo {silo.Id} stops for good (its graceful stop ran out of its deadline)");
        if (silo.IsUp) CountBeforeCrash(silo);
        silo.StopForGood();
        // The roster lost it: every moved group's replica set that still names it takes another live silo instead.
        foreach (var (moved, target) in _targets.Where(t => t.Value.Contains(silo.Id)).OrderBy(t => t.Key, StringComparer.Ordinal).ToList())
        {
            var outside = LiveSiloIds().Where(s => !target.Contains(s)).ToList();
            var next = outside.Count == 0 ? target.Without(silo.Id) : target.Replace(silo.Id, outside[Random.Next(0, outside.Count)]);
            Trace($"move {moved}: replica set {target} -> {next} (silo {silo.Id} left the roster)");
            _targets[moved] = next;
        }
    }

    /// <summary>
    /// What a peer's replica knows of a group (the status call a silo makes before it starts a replica on first
    /// contact): the request and the answer cross the network (partitions cut them), the peer reads its replica on its
    /// own context; null when the peer holds none or does not answer in time.
    /// </summary>
    internal Task<GroupStatus?> StatusFromPeerAsync(long peerId, long asker, string groupId)
    {
        var done = new TaskCompletionSource<GroupStatus?>();
        var peer = Silo(peerId);
        if (peer.Context is { Dead: false } context && !_blocked.Contains((asker, peerId)))
        {
            Scheduler.At(1 + Random.Next(0, Faults.MaxDelay), () => _ = AnswerAsync(), context);
        }
        Scheduler.At(ActivationTimeout, () => done.TrySetResult(null));
        return done.Task;

        async Task AnswerAsync()
        {
            var status = await peer.StatusOfAsync(groupId);
            if (_blocked.Contains((peerId, asker))) return;
            Scheduler.At(1 + Random.Next(0, Faults.MaxDelay), () => done.TrySetResult(status));
        }
    }

    /// <summary>For a liveness failure: unfinished moves, and what every replica of a stuck group knows.</summary>
    private string DescribeMoves()
    {
        var stuck = _movers.Where(m => !m.Settled).Select(m => m.GroupId)
            .Concat(_clients.Select(c => c.PendingGroup).OfType<string>())
            .Distinct().Take(4).ToList();
        string moves = _movers.Count == 0 ? "" : " | moves: " + string.Join("; ", _movers.Where(m => !m.Settled).Select(m => $"{m.GroupId} to {TargetOf(m.GroupId)}: {m.Doing}"));
        return moves + (stuck.Count == 0 ? "" : " | replicas: " + DescribeReplicas(stuck));
    }

    private string DescribeReplicas(IReadOnlyList<string> groupIds)
    {
        var asks = new List<(string Group, long Silo, Task<string> State)>();
        foreach (string groupId in groupIds)
        {
            asks.Add((groupId, 0, Task.FromResult($"activation {(CurrentActivation(groupId) is { } a ? $"on silo {a.Silo.Id}" : "none")}, replica set {TargetOf(groupId)}")));
            foreach (var silo in _silos.Where(s => s.IsUp && s.Holds(groupId)))
            {
                var state = silo.Table.Peek(groupId) is { Usable: true } group
                    ? group.AskAsync(core => ($"{core} configs=[{core.Configs}]", new Ready()))
                    : Task.FromResult("not in memory");
                asks.Add((groupId, silo.Id, state));
            }
        }
        Scheduler.RunUntil(Scheduler.Now + 50);
        return string.Join("; ", asks.Select(a => a.Silo == 0 ? $"{a.Group}: {a.State.Result}"
            : $"{a.Group}@silo{a.Silo}: {(a.State.IsCompletedSuccessfully ? a.State.Result : "no answer")}"));
    }
}

using OpenReplica.Consensus;
using OpenReplica.Orleans;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Simulation.Engine;

/// <summary>
/// Moves one grain's group between silos while the seed runs, as the silo's <c>Rebalancer</c> does (its
/// <c>MoveAsync</c>): through the group's own log, one member at a time, led by the grain's activation (the leader):
/// add the new member, wait until every member that stays holds the log up to where it joined, remove the old one;
/// a removed member then drops its replica (memory and disk). The group's replica set (where placement starts the
/// activation) changes first, as a roster change does. Each move takes the member that has been in the group longest
/// out and puts a silo in: on most moves one that held the group before and dropped it (a re-added member, whose
/// replica starts at the first message that names it and replays the log from the leader). Now and then the silo
/// whose activation led a re-add stops for good while the re-added member is still replaying: a graceful stop that
/// ran out of its deadline (session 9's rolling replacement). The activation then starts again on the re-added
/// member, which ranks first in the new replica set (that is why a roster change added it back).
/// </summary>
internal sealed class GroupMover(EngineSimulation world, string groupId)
{
    /// <summary>How long a step waits for one condition before it looks at the group again (a pass's bound).</summary>
    public const long StepTimeout = 2_000;

    // Members in the order they joined: the longest-serving one leaves first, so groups leave their first members.
    private readonly List<long> _joined = [.. world.ConfigOf(groupId).Members.OrderBy(_ => world.Random.NextULong())];
    private readonly HashSet<long> _leaving = [];
    private readonly HashSet<long> _everHeld = [.. world.ConfigOf(groupId).Members];
    private readonly List<long> _droppedOrder = []; // silos that dropped the group, the earliest first

    public string GroupId => groupId;

    /// <summary>The group is on its replica set, and every member it left dropped its replica.</summary>
    public bool Settled { get; private set; } = true;

    /// <summary>Configuration changes this mover had chosen.</summary>
    public int Changes { get; private set; }

    /// <summary>Members added back after they had dropped their replica.</summary>
    public int ReAdds { get; private set; }

    /// <summary>What the mover waits for (traces and liveness failures).</summary>
    public string Doing { get; private set; } = "idle";

    public async Task RunAsync()
    {
        for (int move = 0; move < world.Faults.MovesPerGroup; move++)
        {
            await world.Scheduler.Delay(world.Random.Next(10, 150));
            if (!world.FaultsOn) break;
            if (!Plan()) continue;
            Settled = false;
            await MoveToTargetAsync();
            Settled = true;
            Doing = "idle";
            _activation = null;
        }
        if (_lateDrop is { } late)
        {
            // The moves ended before the group took the silo back: the drop decided for it still stands.
            _lateDrop = null;
            await DropAsync(world.Silo(late.Silo), late.KnownFromSlot, late.DecidedOn, late.RemovedFrom);
        }
    }

    /// <summary>
    /// Chooses the next replica set. First the group moves, one member at a time, onto silos that never held it (a
    /// rolling replacement: the member that has been in the group longest leaves); once there are none, it comes back
    /// onto the silos it left, the one that dropped it first first, so the re-added member replays a log whose oldest
    /// configurations name only silos that dropped the group.
    /// </summary>
    private bool Plan()
    {
        var target = world.TargetOf(groupId);
        var outside = world.LiveSiloIds().Where(s => !target.Contains(s)).ToList();
        if (outside.Count == 0) return false;
        var fresh = outside.Where(s => !_everHeld.Contains(s)).ToList();
        var readd = _droppedOrder.Where(s => outside.Contains(s) && world.Silo(s).Dropped(groupId)).ToList();
        bool reAdding = false;
        long added;
        if (_lateDrop is { } late && outside.Contains(late.Silo))
        {
            // Its drop was decided and waits: the group takes the silo back first (LateDropAsync).
            reAdding = true;
            added = late.Silo;
        }
        else if (fresh.Count > 0) added = fresh[world.Random.Next(0, fresh.Count)];
        else if (readd.Count > 0)
        {
            reAdding = true;
            added = readd[0];
        }
        else added = outside[world.Random.Next(0, outside.Count)];
        long removed = _joined.Where(target.Contains).DefaultIfEmpty(target.Members.First()).First();
        // The silo whose activation leads the re-add stops for good while the new member replays (its deadline ran out).
        bool decommission = reAdding && world.Random.Chance(world.Faults.DecommissionRate);
        if (decommission && world.CurrentActivation(groupId) is { } leader && target.Contains(leader.Silo.Id)) removed = leader.Silo.Id;
        var next = target.Without(removed).With(added);
        _decommission = decommission;
        _reAdding = reAdding ? added : null;
        _everHeld.Add(added);
        world.SetTarget(groupId, next, preferred: added);
        world.Trace($"move {groupId}: replica set {target} -> {next}" + (reAdding ? $" (silo {added} added back)" : "") +
            (decommission ? "; the silo that leads it stops for good while it replays" : ""));
        return true;
    }

    private bool _decommission;
    private long? _reAdding;
    // A member's drop, decided (the rebalancer's rule held) and not yet carried out: see LateDropAsync.
    private (long Silo, long KnownFromSlot, GroupStatus DecidedOn, long RemovedFrom)? _lateDrop;
    private SimActivation? _activation; // the one the move goes through: in use while the move waits, not idle

    /// <summary>Brings the group to its replica set (<c>Rebalancer.MoveAsync</c>, resumed after every failure, as the next pass resumes it).</summary>
    private async Task MoveToTargetAsync()
    {
        while (true)
        {
            Doing = "waiting for an activation that leads";
            var activation = await world.ActivationForAsync(groupId);
            if (activation is null)
            {
                await world.Scheduler.Delay(world.Random.Next(20, 80));
                continue;
            }
            _activation = activation;
            var group = activation.Group;
            var (answered, (history, inForce, leads)) = await AskAsync(group, core => (core.Configs, core.Config, core.IsLeader));
            if (!answered || !leads)
            {
                await world.Scheduler.Delay(world.Random.Next(20, 80));
                continue;
            }
            var (latest, inForceFrom) = (history.Latest, history.LatestFromSlot);
            _leaving.RemoveWhere(latest.Contains); // added back (a change this mover did not see chosen)
            await ForgetLeftAsync(group, history, inForce);
            var target = world.TargetOf(groupId);
            if (world.Tracing) world.Trace($"move {groupId}: latest {latest}, in force {inForce}, target {target}, leaving {string.Join(",", _leaving)}");
            // The step the silo's rebalancer takes (its MoveAsync), from the same function.
            var step = MoveStep.For(latest, inForce, target, world.IsGone);
            if (step.Kind == MoveStepKind.InPlace)
            {
                if (_leaving.Count == 0) return;
                await world.Scheduler.Delay(20);
                continue;
            }
            if (step.Kind == MoveStepKind.AwaitInForce)
            {
                Doing = $"waiting for {latest} to come into force";
                await UntilAsync(group, core => core.Config.Equals(core.Configs.Latest));
                continue;
            }
            if (step.Kind == MoveStepKind.Remove)
            {
                // Every member that stays must hold the log up to where it joined before a member leaves.
                var staying = step.Staying!.Where(m => m != activation.Silo.Id).ToList();
                Doing = $"waiting for {string.Join(",", staying)} to catch up to slot {inForceFrom - 1}";
                if (!await CaughtUpAsync(group, staying, inForceFrom - 1)) continue;
            }
            var next = step.Next!;
            Doing = $"proposing {next}";
            group.Post(core => core.IsLeader && core.Configs.Latest.Equals(latest) ? core.ProposeConfig(next) : new Ready());
            if (!await UntilAsync(group, core => core.Configs.Latest.Equals(next))) continue;
            Changes++;
            foreach (long left in latest.Members.Where(m => !next.Contains(m))) _leaving.Add(left);
            foreach (long joined in next.Members.Where(m => !latest.Contains(m))) _joined.Add(joined);
            _joined.RemoveAll(m => !next.Contains(m));
            world.Trace($"move {groupId}: {next} chosen (led from silo {activation.Silo.Id})");
            if (_reAdding is { } readd && next.Contains(readd) && !latest.Contains(readd))
            {
                _droppedOrder.Remove(readd);
                ReAdds++;
                world.NoteReAdd();
                if (_lateDrop is { } late && late.Silo == readd)
                {
                    _lateDrop = null;
                    _ = LateDropAsync(group, late, next);
                }
                if (_decommission && world.MayDecommission(activation.Silo.Id, groupId))
                {
                    // Aimed at the replay of the group's older configurations: a slot from the first change's on.
                    var (_, epochs) = await AskAsync(group, core => core.Configs.Epochs.Select(e => e.FromSlot).ToList());
                    long from = epochs is { Count: > 1 } ? epochs[1] : 1, to = epochs is { Count: > 0 } ? epochs[^1] - 1 : 1;
                    _ = DecommissionWhileReplayingAsync(activation.Silo, world.Silo(readd), from + world.Random.Next(0, (int)Math.Max(1, to - from)));
                }
                _decommission = false;
            }
        }
    }

    /// <summary>
    /// The stopping silo's deadline runs out in the middle of the re-added member's replay: once that member has
    /// committed <paramref name="slot"/> (drawn between the slot from which the group's first change is in force and
    /// the one from which the member is in the group), as crashes are aimed at the fsync window. If it is done
    /// before, the silo stops then.
    /// </summary>
    private async Task DecommissionWhileReplayingAsync(SimSilo leaving, SimSilo readded, long slot)
    {
        for (long waited = 0; waited < StepTimeout; waited += 2)
        {
            if (!world.FaultsOn) return;
            if (readded.IsUp && readded.Table.Peek(groupId) is { Usable: true } replica)
            {
                var (answered, commit) = await AskAsync(replica, core => core.CommitIndex);
                if (answered && commit >= slot) break;
            }
            await world.Scheduler.Delay(2);
        }
        world.Decommission(leaving, groupId);
    }

    /// <summary>
    /// Members that left the configuration in force drop their replicas, as each silo's rebalancer does: on the word of
    /// a member that has the removal in force (<see cref="PeerView.SaysGroupLeft"/>, with the statuses the removed
    /// member's silo would be answered), once a majority of the configuration that removed it holds that
    /// configuration's window on disk (<see cref="PeerView.RemovalIsDurable"/>). Until then the leader announces its
    /// commit index (members write one that brings a configuration into force at once), as the driver of a move does
    /// while it waits for a member. The planted <see cref="EngineBug.ForgetBeforeRemovalDurable"/> drops on the
    /// witness's word alone, as the rebalancer did before session 11 (engine seeds 333, 358 and 1252 then stalled for
    /// good: the leader's silo stopped before the others held the window's last slots, which the configuration with
    /// the dropped member still governs).
    /// </summary>
    private async Task ForgetLeftAsync(GroupReplica leader, ConfigHistory history, ClusterConfig inForce)
    {
        var (latest, inForceFrom) = (history.Latest, history.LatestFromSlot);
        var left = _leaving.Where(m => !inForce.Contains(m)).ToList();
        if (left.Count == 0 || !latest.Equals(inForce)) return;
        // The leader's history, as a witness's status carries it (the rebalancer takes the removal's slot from there).
        var epochs = ConfigEpoch.Of(history);
        foreach (long gone in left)
        {
            long removedFrom = PeerView.RemovedFrom(epochs, gone);
            var silo = world.Silo(gone);
            if (silo.Gone || silo.HasForgotten(groupId))
            {
                _leaving.Remove(gone);
                if (!_droppedOrder.Contains(gone)) _droppedOrder.Add(gone);
                continue;
            }
            if (!silo.IsUp || silo.Context is null) continue;
            var decidedOn = await StatusAsync(gone); // what its silo's decision rests on (null: it holds no replica)
            if (!world.Bugs.HasFlag(EngineBug.ForgetBeforeRemovalDurable) && await RemovalNotDurableAsync(gone, decidedOn, inForce) is { } waiting)
            {
                Doing = $"waiting for a majority of {inForce} to hold slot {inForceFrom - 1} on disk before {gone} drops the group ({waiting})";
                leader.Post(core => core.AnnounceCommit());
                continue;
            }
            if (world.Faults.LateDrops && _lateDrop is null && decidedOn is not null && world.Random.Chance(0.5))
            {
                // The silo's drop is decided now, on this view, and carried out once the group has added it back.
                _lateDrop = (gone, inForceFrom, decidedOn, removedFrom);
                _leaving.Remove(gone);
                world.Trace($"move {groupId}: silo {gone} may drop its replica (decided on {decidedOn}); the drop waits until the group adds it back");
                continue;
            }
            Doing = $"waiting for silo {gone} to drop its replica";
            await DropAsync(silo, inForceFrom, decidedOn, removedFrom);
        }
    }

    /// <summary>
    /// A drop decided from a view seconds old (a silo's rebalancer decides on peers' statuses, then drops in the
    /// replica's own step): the group has meanwhile added the silo back, and the old replica answers the leader's
    /// accepts for slots of that configuration while it has not caught up to the configuration itself. The drop is
    /// carried out once the old replica holds such a slot (or has learned the configuration), or after the step
    /// timeout. The replica started next under the silo's id would keep clear of every slot the old one held
    /// (docs/consensus.md, "What a dropped replica leaves"), so the check refuses a drop after such votes, as one after
    /// a configuration learned (<see cref="PeerView.StillLeft"/>); the planted
    /// <see cref="EngineBug.DropAfterVotingAgain"/> carries it out.
    /// </summary>
    private async Task LateDropAsync(GroupReplica leader, (long Silo, long KnownFromSlot, GroupStatus DecidedOn, long RemovedFrom) late, ClusterConfig readded)
    {
        var silo = world.Silo(late.Silo);
        var (_, from) = await AskAsync(leader, core => core.Configs.LatestFromSlot);
        for (long waited = 0; waited < StepTimeout && world.FaultsOn; waited += 1)
        {
            if (silo.IsUp && silo.Table.Peek(groupId) is { Usable: true } old)
            {
                var (answered, (held, learned)) = await AskAsync(old, core => (core.HighestSlotHeld, core.Configs.Latest.Contains(late.Silo)));
                if (answered && (learned || (from > 0 && held >= from))) break;
            }
            await world.Scheduler.Delay(1);
        }
        world.Trace($"move {groupId}: silo {late.Silo} carries out the drop decided before {readded} added it back");
        if (await DropAsync(silo, late.KnownFromSlot, late.DecidedOn, late.RemovedFrom)) world.NoteLateDrop(carriedOut: silo.Dropped(groupId));
    }

    /// <summary>
    /// Null when silo <paramref name="gone"/> may drop its replica by the rebalancer's rule, with the statuses its silo
    /// would be answered by the members of <paramref name="inForce"/>; else what the members hold on disk. A silo that
    /// holds no replica (it never built one) has nothing to keep.
    /// </summary>
    private async Task<string?> RemovalNotDurableAsync(long gone, GroupStatus? mine, ClusterConfig inForce)
    {
        if (mine is null) return null;
        var members = new Dictionary<long, GroupStatus>();
        foreach (long member in inForce.Members)
        {
            if (await StatusAsync(member) is { } status) members[member] = status;
        }
        var witness = members.Values.Where(p => PeerView.SaysGroupLeft(p, mine, gone)).MaxBy(p => p.LatestFromSlot);
        if (witness is not null && PeerView.RemovalIsDurable(witness, members, gone)) return null;
        return witness is null ? "no member says the group left it" : string.Join(", ", members.Select(m => $"{m.Key}: {m.Value.DurableCommitIndex}"));
    }

    /// <summary>What silo <paramref name="member"/>'s replica knows of the group, as its silo answers a peer (null: it holds none, or did not answer).</summary>
    private async Task<GroupStatus?> StatusAsync(long member)
    {
        var silo = world.Silo(member);
        if (!silo.IsUp || !silo.Holds(groupId)) return null;
        var (answered, status) = await BoundedAsync(() => ReplicationRuntime.StatusOfAsync(silo.GroupFor(groupId)));
        return answered ? status : null;
    }

    /// <summary>
    /// Silo <paramref name="silo"/> drops its replica on its own context (<see cref="SimSilo.ForgetAsync"/>), bounded:
    /// true if the drop ran to its end (it may have refused), false if the silo is down or crashed meanwhile.
    /// </summary>
    private async Task<bool> DropAsync(SimSilo silo, long knownFromSlot, GroupStatus? decidedOn, long removedFrom)
    {
        if (!silo.IsUp || silo.Context is not { } context) return false;
        var done = new TaskCompletionSource();
        world.Scheduler.At(0, () => _ = ForgetOnAsync(), context);
        await Task.WhenAny(done.Task, world.Scheduler.Delay(StepTimeout));
        return done.Task.IsCompleted;

        async Task ForgetOnAsync()
        {
            await silo.ForgetAsync(groupId, knownFromSlot, decidedOn, removedFrom);
            done.TrySetResult();
        }
    }

    /// <summary>
    /// Waits until every member in <paramref name="members"/> has committed <paramref name="slot"/>
    /// (<c>Rebalancer.CaughtUpAsync</c>): the leader announces its commit index every 100 ms, and the member is watched
    /// meanwhile (the silo's <c>WaitCommittedAsync</c>, which holds the member's replica in memory while it waits).
    /// </summary>
    private async Task<bool> CaughtUpAsync(GroupReplica leader, IReadOnlyList<long> members, long slot)
    {
        long deadline = world.Scheduler.Now + StepTimeout;
        foreach (long member in members)
        {
            for (int poll = 0; ; poll++)
            {
                var silo = world.Silo(member);
                var (answered, commit) = silo.IsUp && silo.Holds(groupId) ? await AskAsync(silo.GroupFor(groupId), core => core.CommitIndex) : (false, 0);
                if (answered && commit >= slot) break;
                if (world.Scheduler.Now >= deadline)
                {
                    world.Trace($"move {groupId}: silo {member} {(answered ? $"at commit {commit}" : "did not answer")}, needs {slot}");
                    return false;
                }
                // A new member learns the commit index from the leader's heartbeat and fetches what it misses.
                if (poll % 5 == 0) leader.Post(core => core.AnnounceCommit());
                await world.Scheduler.Delay(20);
            }
        }
        return true;
    }

    /// <summary>Polls the leader until <paramref name="condition"/> holds, ticking it meanwhile (<c>Rebalancer.UntilAsync</c>).</summary>
    private async Task<bool> UntilAsync(GroupReplica group, Func<PaxosReplica, bool> condition)
    {
        long deadline = world.Scheduler.Now + StepTimeout;
        while (world.Scheduler.Now < deadline)
        {
            var (answered, holds) = await AskAsync(group, condition);
            if (!answered) return false;
            if (holds) return true;
            group.Post(core => core.Tick());
            await world.Scheduler.Delay(20);
        }
        return false;
    }

    /// <summary>Asks a replica, bounded (a crashed silo's replica never answers).</summary>
    private Task<(bool Answered, T Value)> AskAsync<T>(GroupReplica group, Func<PaxosReplica, T> question) =>
        BoundedAsync(() => group.AskAsync(core => (question(core), new Ready())));

    /// <summary>Runs an ask of a replica, bounded (a crashed silo's replica never answers).</summary>
    private async Task<(bool Answered, T Value)> BoundedAsync<T>(Func<Task<T>> ask)
    {
        if (_activation is { } activation) activation.LastUsed = world.Scheduler.Now;
        // Not Task.WhenAny over the ask: its task resumes its continuations on the thread pool (they must come back
        // to the simulation's thread, which an await on this context does).
        var done = new TaskCompletionSource<(bool, T)>();
        _ = RelayAsync();
        world.Scheduler.At(StepTimeout, () => done.TrySetResult((false, default!)));
        return await done.Task;

        async Task RelayAsync()
        {
            try
            {
                done.TrySetResult((true, await ask()));
            }
            catch (ReplicaUnavailableException)
            {
                done.TrySetResult((false, default!));
            }
        }
    }
}

using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using OpenReplica.Consensus;
using OpenReplica.Storage;
using Orleans;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Moves the groups this silo holds to their replica set in the current roster, in the background, a few at a time
/// (<see cref="ReplicatedGrainsOptions.RebalanceConcurrency"/>). A move goes through the group's own log, one member
/// at a time: add the new member, wait until it has caught up (its commit index reaches the slot from which it is
/// a member, by snapshot + log), then remove the old one, so the group never has fewer up-to-date copies than it
/// had. Exactly one silo drives a group: the one whose replica leads it (an activation, or an earlier move), else
/// the heaviest live member of its newest configuration, which campaigns, moves it and resigns; idle groups are
/// loaded from disk one at a time. Nothing is remembered between passes: each pass compares what the groups'
/// replicas know with the roster, so a crash of any party only delays the move to the next pass.
/// </summary>
internal sealed partial class Rebalancer(
    ReplicationRuntime runtime,
    ReplicaRoster roster,
    ReplicaHostClient hosts,
    IGrainFactory grains,
    IOptions<ReplicatedGrainsOptions> options,
    ILogger<Rebalancer> logger) : ILifecycleParticipant<ISiloLifecycle>
{
    private static readonly TimeSpan StepTimeout = TimeSpan.FromSeconds(10);
    private static readonly TimeSpan PollInterval = TimeSpan.FromMilliseconds(20);

    // A peer's answer about one group: a silo that is stopping (or stopped without being declared dead yet) may hold
    // a call until Orleans' response timeout (30 s); several in a row kept a whole pass, and every move of this silo,
    // waiting for minutes. Unanswered in time counts as unreachable.
    private static readonly TimeSpan PeerAskTimeout = TimeSpan.FromSeconds(2);

    // Bound on one group's step within a pass: past it the pass goes on without it (the step keeps the group marked
    // as being stepped until it ends), so one stuck group never holds back every other move of this silo.
    private static readonly TimeSpan GroupStepBound = TimeSpan.FromSeconds(45);
    private const int MaxStepsPerMove = 16; // add + remove for every member of a 7-replica group, and some slack

    private readonly CancellationTokenSource _stopping = new();
    private readonly SemaphoreSlim _wake = new(0, 1);
    private readonly ConcurrentDictionary<string, byte> _stepping = new(); // groups a pass is stepping now
    private readonly ConcurrentDictionary<string, int> _misplacedPasses = new(); // consecutive passes a group was found misplaced
    private readonly DeferralWatch _deferrals = new(QuietPasses, QuietTime); // groups deferred to another driver, and since when
    private long _moves, _failures, _dropped, _passes, _takeovers, _rehomed;
    // Activations to send to their replica set's first silo once the pass's moves are done (see RehomeQueuedAsync).
    private readonly ConcurrentQueue<(GroupReplica Group, GrainId GrainId, ClusterConfig Target)> _rehomes = new();
    private static readonly TimeSpan RehomeSpacing = TimeSpan.FromMilliseconds(50);

    // A driver at work changes what the members know at least every StepTimeout (a move waits at most that long for one
    // configuration change or catch-up); a deferred group unchanged for longer than that, and for some passes, is
    // stalled. Scaled by the member's rank; a peer that leads is waited for PeerLeadsFactor times longer, and paced moves
    // (a join) PacedFactor times longer.
    private const int QuietPasses = 3;
    private static readonly TimeSpan QuietTime = TimeSpan.FromSeconds(12);
    private const int PeerLeadsFactor = 4;
    // Moves onto a silo that joined are paced on purpose (RebalanceConcurrency): their drivers reach a group late in a
    // long pass, which is no stall. Waited for this many times longer than urgent moves (a silo left).
    private const int PacedFactor = 4;

    // The roster version at which a whole pass found every held group in place. Until the roster changes again no
    // pass runs: a pass loads every held group, which would keep idle groups from ever being evicted (issue 12) and
    // cost work per group ever held instead of per roster change. New groups are born on the current replica set.
    private long _settledVersion = -1;
    // Bumped when a group this silo did not hold at its last pass needs a move (an activation started here on a group
    // whose configuration is not its replica set): a pass that began before it must not call the roster settled.
    private long _requests;
    // Every roster member this silo's passes saw since the last settled pass (the settled roster's members included): a
    // silo that left since is still named by groups here. Kept from the first pass on, not only after a settled one: a
    // silo that stopped while the passes that spread a new cluster's grains ran had its groups moved at the pace of a
    // join, behind thousands of other moves (the first stop of a user-style rolling replacement ran out of its 20 s).
    private volatile IReadOnlyCollection<long> _membersSinceSettled = [];
    private volatile RebalanceProgress _progress = new(0, 0, 0, 0, 0, 0, 0);
    // The groups a step found in place (configuration in force and newest both equal to the replica set, this silo a
    // member) at the memo's roster version. The replica set follows the roster alone, so a group in place stays in
    // place until the roster changes: later passes at that version skip it. Each pass used to load every group held
    // here, from disk when not in memory, as long as any group anywhere was still misplaced (a rolling restart of
    // thousands of groups loaded them all again pass after pass). A compact set (≈ 40 B per id); a new roster version
    // or a requested pass starts an empty one.
    private volatile InPlaceMemo _inPlace = new(-1);

    /// <summary>What the rebalancer has done so far (counters and the last pass).</summary>
    /// <remarks>
    /// The counters are live; the rest is what the last finished pass found. A pass over thousands of groups takes
    /// minutes on a busy machine, and the status command (moves done so far) should not wait for its end.
    /// </remarks>
    public RebalanceProgress Progress => _progress with
    {
        MovesCompleted = Interlocked.Read(ref _moves),
        MovesFailed = Interlocked.Read(ref _failures),
        ReplicasDropped = Interlocked.Read(ref _dropped),
        TakeOvers = Interlocked.Read(ref _takeovers),
        ActivationsRehomed = Interlocked.Read(ref _rehomed),
    };

    /// <summary>
    /// Fault-injection seam for tests: while set, this silo's background passes do not run, so the groups it would drive
    /// are driven by nobody here (a driver that does not drive; in the traced case, an activation that could not win).
    /// </summary>
    internal bool Paused { get; set; }

    /// <summary>
    /// Set while this silo's graceful stop steps its groups itself (<see cref="Decommission"/>): the background passes
    /// would step the same groups beside it, each at the decommission's width.
    /// </summary>
    internal volatile bool HandingOver;

    /// <summary>The roster version at which a whole pass last found every held group in place (-1: none yet).</summary>
    public long SettledVersion => Interlocked.Read(ref _settledVersion);

    public void Participate(ISiloLifecycle lifecycle) =>
        lifecycle.Subscribe(nameof(Rebalancer), ServiceLifecycleStage.Active, Start, Stop);

    private Task Start(CancellationToken cancellationToken)
    {
        roster.Changed += Wake;
        _ = Task.Run(LoopAsync);
        return Task.CompletedTask;
    }

    private Task Stop(CancellationToken cancellationToken)
    {
        roster.Changed -= Wake;
        _stopping.Cancel();
        return Task.CompletedTask;
    }

    /// <summary>
    /// A group needs a move although the roster did not change: an activation started here, on the grain's replica
    /// set, leads a group whose configuration still names other silos (a silo that joined or came back with a new
    /// identity is in the replica set, and the grain's next activation landed on it). This silo drives that move; its
    /// last pass, which ran before it held the group, may have called the roster settled, and no pass would run until
    /// the roster changed again.
    /// </summary>
    public void RequestPass()
    {
        Interlocked.Increment(ref _requests);
        _inPlace = new InPlaceMemo(-1); // something changed without a roster change: check every group again
        Interlocked.Exchange(ref _settledVersion, -1);
        Wake();
    }

    /// <summary>Starts the next pass now (the roster changed, or this silo is leaving).</summary>
    public void Wake()
    {
        try
        {
            if (_wake.CurrentCount == 0) _wake.Release();
        }
        catch (SemaphoreFullException)
        {
        }
    }

    private async Task LoopAsync()
    {
        while (!_stopping.IsCancellationRequested)
        {
            try
            {
                await _wake.WaitAsync(options.Value.RebalanceInterval, _stopping.Token);
                if (roster.Current is not null && roster.Version != Interlocked.Read(ref _settledVersion) && !Paused && !HandingOver) await PassAsync(_stopping.Token);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            catch (Exception e)
            {
                LogPassFailed(logger, e);
            }
        }
    }

    /// <summary>
    /// One pass: every held group whose configuration differs from its replica set is moved (if this silo drives
    /// it), at most <see cref="ReplicatedGrainsOptions.RebalanceConcurrency"/> at once.
    /// </summary>
    public async Task PassAsync(CancellationToken cancellationToken)
    {
        long version = roster.Version;
        long requests = Interlocked.Read(ref _requests);
        var members = roster.Current?.Members;
        if (members is not null) _membersSinceSettled = [.. _membersSinceSettled.Union(members)];
        var held = runtime.HeldGroupIds();
        int misplaced = 0;
        int skipped = 0;
        string? example = null;
        var slots = PacerFor(members);
        var running = new List<Task>();
        var inPlace = _inPlace;
        if (inPlace.Version != version) _inPlace = inPlace = new InPlaceMemo(version);
        foreach (string groupId in DriversFirst(held))
        {
            if (inPlace.Groups.Contains(groupId))
            {
                skipped++;
                continue;
            }
            await slots.EnterAsync(cancellationToken);
            if (roster.Version != version)
            {
                // The roster changed: the next pass (already woken) orders and paces the moves by the new one. A pass
                // that went on spreading a join at a join's pace kept a silo that left meanwhile named by its groups
                // until the whole pass ended.
                slots.Exit();
                break;
            }
            running.Add(Task.Run(async () =>
            {
                try
                {
                    var (outcome, why) = await StepOnceAsync(groupId, version, cancellationToken);
                    if (outcome != Outcome.InPlace)
                    {
                        Interlocked.Increment(ref misplaced);
                        example ??= $"{groupId}: {outcome} ({why})";
                    }
                }
                finally
                {
                    slots.Exit();
                }
            }, cancellationToken));
        }
        await Task.WhenAll(running);
        await RehomeQueuedAsync(version, cancellationToken);
        foreach (string gone in _misplacedPasses.Keys.Except(held)) _misplacedPasses.TryRemove(gone, out _);
        _deferrals.Retain(held);
        long passes = Interlocked.Increment(ref _passes);
        if (misplaced == 0 && roster.Version == version && Interlocked.Read(ref _requests) == requests)
        {
            Interlocked.Exchange(ref _settledVersion, version);
            if (members is not null) _membersSinceSettled = [.. members];
        }
        _progress = new RebalanceProgress(version, held.Count, misplaced, Interlocked.Read(ref _moves), Interlocked.Read(ref _failures), Interlocked.Read(ref _dropped), passes, example)
        {
            GroupsSkipped = skipped,
        };
        if (misplaced > 0) LogPass(logger, version, held.Count, misplaced, _progress.MovesCompleted, _progress.MovesFailed, _progress.ReplicasDropped, slots.Limit);
    }

    /// <summary>
    /// Steps one group unless a pass or a hand-over on this silo steps it now, and notes the outcome (misplaced passes,
    /// deferrals).
    /// </summary>
    private async Task<(Outcome, string Why)> StepOnceAsync(string groupId, long version, CancellationToken cancellationToken)
    {
        // One step per group at a time on this silo: a decommission's steps run beside the background loop.
        bool mine = _stepping.TryAdd(groupId, 0);
        try
        {
            var (outcome, why) = mine ? await BoundedStepAsync(groupId, cancellationToken) : (Outcome.DrivenElsewhere, "another pass on this silo is stepping it");
            mine = false; // BoundedStepAsync releases the group once its step really ended
            if (outcome is Outcome.InPlace or Outcome.Moved or Outcome.Dropped) _deferrals.Settled(groupId);
            if (outcome != Outcome.InPlace) NoteMisplaced(groupId, version, outcome, why);
            else _misplacedPasses.TryRemove(groupId, out _);
            return (outcome, why);
        }
        finally
        {
            if (mine) _stepping.TryRemove(groupId, out _);
        }
    }

    /// <summary>
    /// One step of one group outside a pass: a leaving silo's hand-over steps each group it holds again as soon as its
    /// last step ended, instead of in passes that each wait for their slowest move (<see cref="Decommission"/>).
    /// </summary>
    public async Task StepAsync(string groupId, CancellationToken cancellationToken) =>
        await StepOnceAsync(groupId, roster.Version, cancellationToken);

    /// <summary>
    /// The order of a pass or a hand-over. Repairs first: groups that a leaving silo would leave without a majority of
    /// members that stay, then groups with a member gone or leaving (one more departure and they would be). Within
    /// each, groups with an activation here (this silo drives their moves), then the others in memory, then those only
    /// on disk (each costs a load): a pass's first slots go to moves rather than to groups that others move.
    /// </summary>
    /// <remarks>
    /// Why repairs first: in a rolling replacement (each silo replaced in turn, seconds apart) a silo whose hand-over
    /// ran out of time left groups one copy short, and the next silo's hand-over took them in the same order as every
    /// other group; a group whose second member then left too had no majority, and with new empty silos none came
    /// back: its grain was unreadable and its acknowledged writes lost (session 22, 6 silos in one process, 3,000
    /// grains, 10 s apart).
    /// </remarks>
    public IEnumerable<string> DriversFirst(IReadOnlyList<string> held)
    {
        long me = roster.LocalReplicaId;
        bool leaving = roster.IsLeaving(me);
        return held.Select(id => (Id: id, Group: runtime.GroupOrNull(id)))
            .OrderBy(g => g.Group is { Evicted: false, LatestConfig: { } config }
                ? leaving && roster.LosesMajorityWithout(config, me) ? 0 : roster.NeedsRepair(config) ? 1 : 2
                : 2)
            .ThenBy(g => g.Group switch { { Listener: not null } => 0, { Evicted: false } => 1, _ => 2 })
            .Select(g => g.Id);
    }

    /// <summary>
    /// Of <paramref name="groups"/>, those this leaving silo must still hand over because the group would otherwise be
    /// left without a majority of members that stay (a group whose newest configuration is not known here counts).
    /// </summary>
    public IReadOnlyList<string> WouldLoseMajority(IEnumerable<string> groups)
    {
        long me = roster.LocalReplicaId;
        return [.. groups.Where(id => runtime.GroupOrNull(id) is not { Evicted: false, LatestConfig: { } config } || roster.LosesMajorityWithout(config, me))];
    }

    /// <summary>
    /// Steps one group, waiting at most <see cref="GroupStepBound"/>: a step still running then is reported as failed
    /// and finishes in the background (the group stays marked as stepped, so no other pass starts one beside it).
    /// </summary>
    private async Task<(Outcome, string Why)> BoundedStepAsync(string groupId, CancellationToken cancellationToken)
    {
        var step = StepGroupAsync(groupId, cancellationToken);
        _ = step.ContinueWith(_ => _stepping.TryRemove(groupId, out byte _), CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        try
        {
            return await step.WaitAsync(GroupStepBound, cancellationToken);
        }
        catch (TimeoutException)
        {
            Interlocked.Increment(ref _failures);
            LogStepOverdue(logger, groupId, GroupStepBound);
            return (Outcome.Failed, $"its step did not end within {GroupStepBound.TotalSeconds:0} s");
        }
    }

    /// <summary>
    /// A group found misplaced pass after pass is logged with why (every <see cref="StuckReportEvery"/> passes), so a
    /// move that never happens can be traced without Debug logging.
    /// </summary>
    private void NoteMisplaced(string groupId, long version, Outcome outcome, string why)
    {
        int passes = _misplacedPasses.AddOrUpdate(groupId, 1, (_, n) => n + 1);
        if (passes % StuckReportEvery == 0) LogStillMisplaced(logger, groupId, passes, version, outcome, why);
    }

    private const int StuckReportEvery = 20;

    /// <summary>
    /// Moves onto a silo that joined are paced (<see cref="ReplicatedGrainsOptions.RebalanceConcurrency"/>); moves off a
    /// silo that left the roster since the last settled pass, or off this leaving silo, are urgent
    /// (<see cref="ReplicatedGrainsOptions.DecommissionConcurrency"/>): a graceful stop has a deadline, and a replaced
    /// silo's groups run one replica short until they move.
    /// </summary>
    private int ConcurrencyFor(IReadOnlyCollection<long>? members)
    {
        var o = options.Value;
        return IsUrgent(members) ? UrgentConcurrency : o.RebalanceConcurrency;
    }

    /// <summary>Groups moved at once when the moves are urgent (a silo left or this one is leaving; see <see cref="ConcurrencyFor"/>).</summary>
    public int UrgentConcurrency => Math.Max(options.Value.RebalanceConcurrency, options.Value.DecommissionConcurrency);

    /// <summary>Whether the moves are urgent: this silo is leaving, or a member left the roster since the last settled pass (or since this silo's first pass).</summary>
    private bool IsUrgent(IReadOnlyCollection<long>? members) =>
        roster.IsLeaving(roster.LocalReplicaId) || (members is not null && _membersSinceSettled.Any(m => !members.Contains(m)));

    /// <summary>
    /// The pace of a pass: urgent moves (see <see cref="ConcurrencyFor"/>) at a fixed width; moves onto a silo that
    /// joined adapt between <see cref="ReplicatedGrainsOptions.RebalanceConcurrency"/> and
    /// <see cref="ReplicatedGrainsOptions.RebalanceConcurrencyMax"/> to what moves cost (one pacer across passes).
    /// </summary>
    private MovePacer PacerFor(IReadOnlyCollection<long>? members)
    {
        var o = options.Value;
        int width = ConcurrencyFor(members);
        if (width != o.RebalanceConcurrency) return new MovePacer(width, width);
        return _joinPacer ??= new MovePacer(o.RebalanceConcurrency, Math.Max(o.RebalanceConcurrency, o.RebalanceConcurrencyMax));
    }

    private MovePacer? _joinPacer;

    /// <summary>Held groups whose newest configuration still names this silo's replica, or that it leads (with why).</summary>
    public async Task<IReadOnlyList<string>> GroupsStillHereAsync(CancellationToken cancellationToken)
    {
        var here = new ConcurrentBag<string>();
        await Parallel.ForEachAsync(runtime.HeldGroupIds(), new ParallelOptions { MaxDegreeOfParallelism = ConcurrencyFor(roster.Current?.Members), CancellationToken = cancellationToken }, async (groupId, _) =>
        {
            if (await StillHereAsync(groupId, cancellationToken) is { } why) here.Add($"{groupId} ({why})");
        });
        return [.. here];
    }

    /// <summary>
    /// Why this silo's replica of the group still keeps it here: its newest configuration names this replica, it leads
    /// the group, or the configuration that removed it is not yet on disk at a majority of its members; null when none
    /// of these (or it holds no replica, or the replica stopped).
    /// </summary>
    public async Task<string?> StillHereAsync(string groupId, CancellationToken cancellationToken = default)
    {
        if (await runtime.LoadHeldAsync(groupId, background: true, cancellationToken) is not { } group) return null;
        try
        {
            var status = await StatusAsync(group);
            if (status.Latest.Contains(roster.LocalReplicaId)) return $"member of {{{string.Join(",", status.Latest)}}}";
            if (status.Leader) return $"led from here{(status.HasActivation ? " by an activation" : "")}";
            // Removed from the group: this silo stops only once a majority of the configuration that removed it holds
            // that configuration's window on disk, as a dropped replica must wait (PeerView.RemovalIsDurable); else a
            // crash of the new leader right after this stop could leave the window short of a quorum.
            return await RemovalNotDurableAsync(groupId, status, new Dictionary<long, GroupStatus>(), roster.LocalReplicaId);
        }
        catch (Exception e) when (e is ReplicaUnavailableException or TimeoutException)
        {
            return null;
        }
    }

    private enum Outcome { InPlace, Moved, Dropped, DrivenElsewhere, Failed }

    private async Task<(Outcome, string Why)> StepGroupAsync(string groupId, CancellationToken cancellationToken)
    {
        var (grainId, replicas) = ReplicationRuntime.GrainOf(groupId);
        long version = roster.Version;
        if (roster.TargetConfigFor(grainId, replicas) is not { } target || await runtime.LoadHeldAsync(groupId, background: true, cancellationToken) is not { } group) return (Outcome.InPlace, "");
        bool targetOfVersion = roster.Version == version; // the target read belongs to this version (no change in between)
        long me = roster.LocalReplicaId;
        GroupStatus status;
        try
        {
            status = await StatusAsync(group);
        }
        catch (ReplicaUnavailableException)
        {
            return (Outcome.InPlace, ""); // the replica stopped (a failed fsync): nothing to move from here
        }
        catch (TimeoutException)
        {
            return (Outcome.Failed, $"its replica here did not answer within {StepTimeout.TotalSeconds:0} s");
        }
        var latest = new ClusterConfig(status.Latest);
        var inForce = new ClusterConfig(status.InForce);
        // Membership first: a replica that moved its group away itself (its activation led the move) knows the new
        // configuration, which equals the target, yet holds a replica that is no longer needed.
        // An activation here on the grain's replica set, whose group does not name this silo yet (placement follows
        // the roster, the group follows its moves): it leads, so it drives the move that adds this silo. Stepping it
        // aside would only start it here again, and the group's members leave a group led elsewhere alone.
        bool joiningLeader = status.HasActivation && target.Contains(me);
        // A follower's view may be one it is replaying (a new member catching up): it asks its peers below.
        bool notMember = !latest.Contains(me) && !inForce.Contains(me) && !joiningLeader;
        if (notMember && PeerView.OwnViewSaysGroupLeft(status, me))
        {
            // The group moved away from this silo and its new configuration is in force: this replica is not needed.
            if (status.Leader && status.HasActivation)
            {
                // The activation still leads from here: let it start again on a member (no caller sees an error;
                // Orleans forwards calls to the next activation).
                HandOver(group, grainId, movedTo: latest, target, before: null);
                return (Outcome.Moved, $"its activation here steps aside ({(group.Listener as GrainSession)?.Describe()}); latest {latest}, in force {inForce}, target {target}");
            }
            if (await RemovalNotDurableAsync(groupId, status, new Dictionary<long, GroupStatus>(), me) is { } waiting)
            {
                // This replica leads: tell the members the commit index again (they write it at once, see
                // GroupReplica.BringsConfigIntoForce), so the next pass finds the removal durable.
                group.Post(core => core.AnnounceCommit());
                return (Outcome.DrivenElsewhere, waiting);
            }
            if (!await runtime.ForgetAsync(groupId, 0, core => PeerView.StillLeft(core, status, PeerView.RemovedFrom(status, me))))
            {
                return (Outcome.DrivenElsewhere, "it learned a newer configuration, or voted again, while this pass decided to drop it");
            }
            Interlocked.Increment(ref _dropped);
            LogDropped(logger, groupId, latest.ToString());
            return (Outcome.Dropped, "");
        }
        if (!notMember && latest.Equals(target) && inForce.Equals(target))
        {
            if (targetOfVersion) _inPlace.Note(version, groupId);
            // In place. Led by an earlier move of this silo without an activation: give the leadership up.
            if (status.Leader && !status.HasActivation) group.Post(core => group.Listener is null && core.IsLeader ? core.Resign() : new Ready());
            return (Outcome.InPlace, "");
        }

        if (!latest.Contains(me) && latest.Equals(target) && status.Leader && status.HasActivation)
        {
            // The last change of a move this silo drove is chosen, not yet in force, and its activation here still
            // leads (it was asked to step aside when the move ended, and the next activation fills the window): ask
            // again rather than count and log the move once more (a leaving silo steps such a group every few
            // hundred ms until its activation is gone).
            HandOver(group, grainId, movedTo: latest, target, before: inForce); // in force: the members before the removal, as at the first ask
            return (Outcome.Moved, $"its activation here steps aside ({(group.Listener as GrainSession)?.Describe()}); latest {latest}, in force {inForce}");
        }
        bool campaigned = false;
        // Set once this member stops deferring to a driver that makes no progress (DeferralWatch): it drives the move.
        DeferralWatch.Stall? takeOver = null;
        int rank = TakeOverRank(grainId, latest, me) * (IsUrgent(roster.Current?.Members) ? 1 : PacedFactor);
        // A replica whose group does not name it (it asks its peers whether the group left it) never campaigns for it.
        bool Defers(int factor) => notMember || !NoProgress(groupId, status, rank * factor, out takeOver);
        if (joiningLeader && !status.Leader && !latest.Contains(me) && Defers(1)) return (Outcome.DrivenElsewhere, "its activation here has not taken the lead yet");
        if (takeOver is null && !status.Leader && target.Contains(me) && !IsDesignatedDriver(grainId, latest, me) && Defers(1))
        {
            // Stays a member and another member drives the move: nothing to ask the peers (a pass over thousands of
            // groups would spend its concurrency on these asks instead of on the moves this silo drives).
            return (Outcome.DrivenElsewhere, $"another member drives it; latest {latest}, target {target}");
        }
        if (!status.Leader)
        {
            var asked = await PeerStatusesAsync(groupId, latest.Members, me);
            if (asked.Count == 0)
            {
                // No member of this replica's newest configuration holds the group any more: it moved on without this
                // replica, and those members left it too. The grain's replica set in the roster holds the group now;
                // its word is as good as theirs (PeerView.SaysGroupLeft). Without it such a replica, left behind since
                // the grains' first spread, named this silo for ever and held its graceful stop for 30 s (session 25).
                foreach (var (member, answer) in await PeerStatusesAsync(groupId, target.Members.Except(latest.Members), me)) asked[member] = answer;
            }
            var peers = asked.Values.ToList();
            if (peers.Where(p => PeerView.SaysGroupLeft(p, status, me)).MaxBy(p => p.LatestFromSlot) is { } witness)
            {
                // The group left this replica, but it keeps its replica until a majority of the configuration that
                // removed it holds that configuration's window on disk (PeerView.RemovalIsDurable): the leader (the
                // witness, usually) may stop for good before its followers wrote the commit index.
                if (await RemovalNotDurableAsync(groupId, witness, asked, me) is { } waiting) return (Outcome.DrivenElsewhere, waiting);
                // A member knows a configuration without this replica in force, and it has committed past the slot
                // from which this replica's newest configuration is in force: the group left this silo while this
                // replica, no longer sent anything, did not hear of it. A member that has not committed that far may
                // only lag (a replica re-created for a member added back, still knowing the configuration before
                // this one joined): forgetting on its word dropped a member the group still counted on, and the
                // group, one replica short of its majority, stopped for good (a rolling replacement, traced).
                if (!await runtime.ForgetAsync(groupId, witness.LatestFromSlot, core => PeerView.StillLeft(core, status, PeerView.RemovedFrom(witness, me))))
                {
                    return (Outcome.DrivenElsewhere, "it learned a newer configuration, or voted again, while this pass asked its peers");
                }
                Interlocked.Increment(ref _dropped);
                LogDropped(logger, groupId, "(learned from a peer)");
                return (Outcome.Dropped, "");
            }
            // The leader of a change chosen but not in force yet may be a member that change removes: a leaving silo's
            // own move, filling the window before its activation steps aside. Not asked, it looked like nobody led, and
            // the designated driver here campaigned, which ended that activation and the calls it was serving a moment
            // before it would have handed over (session 36: 35 of a leaving silo's moves ended so in one rolling
            // replacement, whose slowest calls took 2-3.2 s). Asked only while such a change is under way, and only when
            // the answer can change what this pass does (no take-over decided, no leader among the peers already asked).
            if (takeOver is null && !peers.Any(p => p.Leader))
            {
                var removing = await PeerStatusesAsync(groupId, inForce.Members.Except(latest.Members), me);
                peers.AddRange(removing.Values.Where(p => p.Leader));
            }
            string view = $"latest {latest}, in force {inForce}, target {target}, commit {status.CommitIndex}; peers: {Describe(peers)}";
            // A leader that neither serves calls nor moves the group is waited for longer than a driver nobody has
            // seen lead: its silo's pass may just not have reached the group yet, and taking the lead from an
            // activation ends that activation.
            if (takeOver is null && peers.Any(p => p.Leader) && Defers(PeerLeadsFactor)) return (Outcome.DrivenElsewhere, $"a peer leads it; {view}");
            // An activation starting on a peer (moved there, or placed there by a call) campaigns and then drives the
            // group: a campaign from here would end that activation.
            if (takeOver is null && peers.Any(p => p.HasActivation) && Defers(PeerLeadsFactor)) return (Outcome.DrivenElsewhere, $"an activation on a peer takes the lead; {view}");
            if (takeOver is null && !IsDesignatedDriver(grainId, latest, me) && Defers(1)) return (Outcome.DrivenElsewhere, $"another member drives it; {view}");
            if (takeOver is not null)
            {
                _deferrals.TookOver(groupId);
                Interlocked.Increment(ref _takeovers);
                LogTakingOver(logger, groupId, takeOver.ToString(), view);
            }
            group.Post(core => core.IsLeader ? new Ready() : core.Campaign());
            campaigned = true;
            if (!await UntilAsync(group, core => core.IsLeader, cancellationToken))
            {
                Interlocked.Increment(ref _failures);
                return (Outcome.Failed, $"campaigned and did not become leader; {view}");
            }
        }
        try
        {
            LogMoving(logger, groupId, latest.ToString(), target.ToString());
            var phases = new MovePhases();
            bool done = await MoveAsync(group, target, phases, cancellationToken);
            Interlocked.Increment(ref done ? ref _moves : ref _failures);
            if (done)
            {
                _joinPacer?.MoveTook(phases.Elapsed);
                LogMoved(logger, groupId, target.ToString(), phases.ToString());
                // The group left this silo and its activation here still leads it: hand it to a member now rather
                // than at the next pass (which, in a graceful stop, starts only once every move of this pass ended).
                // Urgent moves (a silo left) prefer a member that held the group before; paced ones (a silo joined)
                // send it to the replica set's first silo, which spreads activations as evenly as the replicas.
                bool urgent = IsUrgent(roster.Current?.Members);
                if (!target.Contains(me)) HandOver(group, grainId, movedTo: target, target, before: urgent ? latest : null);
                else if (!urgent && latest.Contains(me) && RosterIsCalm()) _rehomes.Enqueue((group, grainId, target));
            }
            return done ? (Outcome.Moved, "") : (Outcome.Failed, $"the move from {latest} to {target} stopped (logged above)");
        }
        finally
        {
            // A leader without an activation only moved the group: resign so the next activation leads cheaply.
            if (campaigned) group.Post(core => group.Listener is null && core.IsLeader ? core.Resign() : new Ready());
        }
    }

    /// <summary>
    /// Whether group <paramref name="groupId"/>, deferred again, has shown no progress long enough for this member of
    /// rank <paramref name="rank"/> to drive it (see <see cref="DeferralWatch"/>).
    /// </summary>
    private bool NoProgress(string groupId, GroupStatus status, int rank, out DeferralWatch.Stall? stall)
    {
        bool stalled = _deferrals.NoProgress(groupId, status, rank, TimeSpan.FromMilliseconds(HostClock.Now), out var seen);
        stall = stalled ? seen : null;
        return stalled;
    }

    /// <summary>
    /// This member's place among those that may take a stalled group's move over: the designated driver's successors in
    /// the preference order of the newest configuration, live and not leaving, from 1; a member not in that
    /// configuration (a joining activation's silo) or leaving comes after all of them.
    /// </summary>
    private int TakeOverRank(GrainId grainId, ClusterConfig latest, long me)
    {
        if (!latest.Contains(me) || roster.IsLeaving(me)) return latest.Members.Count + 1;
        int place = roster.PreferenceOrder(grainId, latest)
            .Where(m => m == me || (roster.SiloOf(m) is not null && !roster.IsLeaving(m)))
            .TakeWhile(m => m != me)
            .Count();
        return Math.Max(1, place);
    }

    private static string Describe(List<GroupStatus> peers) =>
        peers.Count == 0 ? "none reachable" : string.Join("; ", peers.Select(p => $"latest {{{string.Join(",", p.Latest)}}} commit {p.CommitIndex}{(p.Leader ? " leader" : "")}"));

    /// <summary>What the other reachable members among <paramref name="members"/> (the group's newest configuration) know of it, by member.</summary>
    private async Task<Dictionary<long, GroupStatus>> PeerStatusesAsync(string groupId, IEnumerable<long> members, long me)
    {
        var answers = await Task.WhenAll(members.Where(m => m != me).Select(AskAsync));
        return answers.Where(a => a.Status is not null).ToDictionary(a => a.Member, a => a.Status!);

        async Task<(long Member, GroupStatus? Status)> AskAsync(long member)
        {
            try
            {
                return (member, await AskPeerAsync(member, groupId));
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return (member, null); // unreachable: it cannot lead a move now either
            }
        }
    }

    /// <summary>
    /// Null when replica <paramref name="me"/> may drop its replica of a group that <paramref name="witness"/> says
    /// removed it (<see cref="PeerView.RemovalIsDurable"/>); else why it waits. Asks the members of the removing
    /// configuration that <paramref name="asked"/> does not hold yet.
    /// </summary>
    private async Task<string?> RemovalNotDurableAsync(string groupId, GroupStatus witness, IReadOnlyDictionary<long, GroupStatus> asked, long me)
    {
        if (PeerView.RemovalOf(witness, me) is not { } removal) return "the group's newest configuration names this replica";
        var members = new Dictionary<long, GroupStatus>(asked);
        var since = PeerView.SinceRemovalOf(witness, me).SelectMany(e => e.Members).Distinct();
        foreach (var (member, status) in await PeerStatusesAsync(groupId, since.Where(m => !asked.ContainsKey(m)), me)) members[member] = status;
        if (PeerView.RemovalIsDurable(witness, members, me)) return null;
        return $"kept until a majority of {{{string.Join(",", removal.Members)}}} holds slot {removal.FromSlot - 1} on disk " +
            $"({string.Join(", ", removal.Members.Select(m => $"{m}: {(members.TryGetValue(m, out var st) ? st.DurableCommitIndex.ToString() : "no answer")}"))})";
    }

    /// <summary>What the silo of <paramref name="member"/> knows of the group (null: it holds no replica); throws when it is unknown or does not answer in time.</summary>
    private async Task<GroupStatus?> AskPeerAsync(long member, string groupId) =>
        await HostOf(member).GetGroupStatusAsync(groupId).WaitAsync(PeerAskTimeout);

    /// <summary>The replica host on <paramref name="member"/>'s silo; throws when its address is unknown.</summary>
    private IReplicaHost HostOf(long member) =>
        roster.SiloOf(member) is { } silo ? hosts.For(silo) : throw new ReplicaUnavailableException($"the address of replica {member} is unknown");

    /// <summary>
    /// The group left this silo (for <paramref name="movedTo"/>): its activation here, if any, steps aside to
    /// <see cref="NextHome"/> (no caller sees an error; Orleans forwards the calls to the next activation).
    /// </summary>
    private void HandOver(GroupReplica group, GrainId grainId, ClusterConfig movedTo, ClusterConfig target, ClusterConfig? before)
    {
        if (group.Listener is not GrainSession session) return;
        LogSteppingAside(logger, group.GroupId, movedTo.ToString());
        // The activation deactivates rather than migrates, unless a silo left the roster (below): Orleans migrates to
        // a silo one batch at a time and answers a batch once all its activations are valid, so each grain waits for
        // the slowest of its batch and for the batches before it. While this silo hands everything over before it
        // stops, one slow or failed activation held every grain queued to that silo for the 30 s response timeout
        // (the full rolling replacement of session 12: calls of six grains took 30.5 s as their silo stopped). At a
        // join the target is mostly the silo that joined, busy taking in its groups: in session 27's roll the next
        // activations started there 1.0-2.5 s after the old ones stopped, the slowest calls of the roll. Deactivated,
        // each grain's queued calls are forwarded on their own, and placement puts the grain on the first live silo of
        // its replica set (this silo is no longer in it), where a move's rehome would have sent it.
        // When a silo left (a failure or a decommission elsewhere) the activation migrates to a member, one that held
        // the group before where known (it has the whole log): no silo is taking in a join's share of groups then.
        bool migrate = !HandingOver && IsUrgent(roster.Current?.Members);
        session.StepAside("its group moved to other silos", migrate ? NextHome(grainId, target, before) : null);
        if (!migrate && !HandingOver) _ = StartAtHomeAsync(grainId);
    }

    /// <summary>
    /// Starts a grain whose activation deactivated at a join on its replica set now, with a call that runs outside the
    /// log (<see cref="IReplicatedGrainDivergence.GetDivergence"/>). This silo no longer lists an activation of it,
    /// so its placement picks the replica set. Without this, callers' directory caches still named this silo: the next
    /// call started the grain here, it found itself outside its replica set and deactivated again, and the call was
    /// forwarded only then (86 such calls in the Volatile roll of session 27, each a few hundred ms slower). With the
    /// grain registered on its replica set, such a call is forwarded at once.
    /// </summary>
    private async Task StartAtHomeAsync(GrainId grainId)
    {
        try
        {
            await grains.GetGrain(grainId).AsReference<IReplicatedGrainDivergence>().GetDivergence();
        }
        catch (Exception e)
        {
            LogStartAtHomeFailed(logger, grainId, e.Message); // the grain's next call starts it instead
        }
    }

    /// <summary>
    /// A move onto silos that joined kept this silo in the group, and the grain's activation here: it moves to the
    /// replica set's first live silo (rendezvous order) when that is another one. Without this, activations stayed
    /// where the grains were born: a cluster written in its first seconds, while the roster still had its first R
    /// silos, kept 90 % of its activations on those silos after its replicas had spread evenly over six (session 23,
    /// 10,000 grains). Each silo is first for 1/N of the grains, so activations spread like replicas.
    /// </summary>
    /// <remarks>
    /// Only while the roster is calm (every member stays, no live silo waits to join): in a rolling replacement the
    /// next silo leaves moments later, and moving leadership meanwhile only adds campaigns to the hand-overs (a group
    /// stalled once in CI with it).
    /// </remarks>
    private long Rehome(GroupReplica group, GrainId grainId, ClusterConfig target)
    {
        if (group.Listener is not GrainSession session) return 0;
        long me = roster.LocalReplicaId;
        long first = roster.PreferenceOrder(grainId, target).FirstOrDefault(m => m == me || (roster.SiloOf(m) is not null && !roster.IsLeaving(m)));
        if (first == me || first == 0 || roster.SiloOf(first) is not { } home) return 0;
        Interlocked.Increment(ref _rehomed);
        LogRehoming(logger, group.GroupId, first);
        session.StepAside("its group moved onto silos that joined, and another one comes first in its replica set", home);
        return first;
    }

    /// <summary>
    /// Moves the activations queued by this pass's paced moves to their replica sets' first silos once the pass's
    /// moves are done, while the roster stays calm: one at a time, the next once the last one leads its group on its
    /// new silo (at most <see cref="RehomeWait"/>) and at least <see cref="RehomeSpacing"/> later. They are moved for
    /// balance only. Moved as each group's move ended, they reached a silo that had just joined while it was still
    /// taking in its share of groups, in Orleans migration batches to that silo. In both full-size rolls of session 26
    /// every one of the slowest calls was such a grain: its next activation started 0.85-3.0 s after the old one
    /// stopped. Sent every 50 ms after the pass, they still left in batches (Orleans answers a batch to a silo once
    /// all its activations are valid, and sends the next one only then): in session 27's roll one started 2.0 s after
    /// the old one stopped. One at a time, each batch holds one grain, and the pace follows the new silo's.
    /// </summary>
    private async Task RehomeQueuedAsync(long version, CancellationToken cancellationToken)
    {
        while (_rehomes.TryDequeue(out var item))
        {
            if (roster.Version != version || HandingOver || !RosterIsCalm())
            {
                _rehomes.Clear(); // the next pass looks at these groups again under the new roster
                return;
            }
            if (!Equals(item.Group.LatestConfig, item.Target)) continue; // moved again meanwhile
            long sentTo = Rehome(item.Group, item.GrainId, item.Target);
            var spacing = Task.Delay(RehomeSpacing, cancellationToken);
            if (sentTo != 0) await LeadsThereAsync(sentTo, item.Group.GroupId, cancellationToken);
            await spacing;
        }
    }

    private static readonly TimeSpan RehomeWait = TimeSpan.FromSeconds(3);

    /// <summary>Waits, at most <see cref="RehomeWait"/>, until replica <paramref name="member"/> leads the group with an activation.</summary>
    private async Task LeadsThereAsync(long member, string groupId, CancellationToken cancellationToken)
    {
        long deadline = HostClock.Now + (long)RehomeWait.TotalMilliseconds;
        while (HostClock.Now < deadline && !cancellationToken.IsCancellationRequested)
        {
            try
            {
                if (await AskPeerAsync(member, groupId) is { Leader: true, HasActivation: true }) return;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                return; // the peer cannot say (gone, or slow): the pace falls back to the spacing
            }
            await Task.Delay(PollInterval, cancellationToken);
        }
    }

    private bool RosterIsCalm() => roster.Current is { } current && current.Members.All(roster.Stays) && roster.Spares().Count == 0;

    /// <summary>
    /// Where a grain whose group left this silo should run next: a live member of its new configuration that is not
    /// leaving, members that were in the group before the move (<paramref name="before"/>) first (they hold the whole
    /// log; a member the move added has only just caught up), then in the roster's preference order (null: let
    /// Orleans' placement choose at the next call).
    /// </summary>
    private SiloAddress? NextHome(GrainId grainId, ClusterConfig target, ClusterConfig? before = null) =>
        roster.PreferenceOrder(grainId, target)
            .Where(m => m != roster.LocalReplicaId && !roster.IsLeaving(m))
            .OrderBy(m => before is not null && before.Contains(m) ? 0 : 1)
            .Select(roster.SiloOf)
            .FirstOrDefault(silo => silo is not null);

    /// <summary>
    /// Whether this silo should lead a group nobody leads to move it: its replica is the heaviest live member of
    /// the group's newest configuration that is not leaving.
    /// </summary>
    private bool IsDesignatedDriver(GrainId grainId, ClusterConfig latest, long me) =>
        roster.PreferenceOrder(grainId, latest).FirstOrDefault(m => m == me || (roster.SiloOf(m) is not null && !roster.IsLeaving(m))) == me;

    /// <summary>Moves the group this replica leads to <paramref name="target"/>, one member change at a time.</summary>
    private async Task<bool> MoveAsync(GroupReplica group, ClusterConfig target, MovePhases phases, CancellationToken cancellationToken)
    {
        for (int step = 0; step < MaxStepsPerMove; step++)
        {
            var (latest, inForce, leader, inForceFrom) = await group.AskAsync(core =>
                ((core.Configs.Latest, core.Config, core.IsLeader, core.Configs.LatestFromSlot), new Ready()));
            if (!leader) return Stalled(group, "this replica no longer leads the group");
            var change = MoveStep.For(latest, inForce, target, roster.IsGone);
            if (change.Kind == MoveStepKind.InPlace) return true;
            if (change.Kind == MoveStepKind.AwaitInForce)
            {
                // Chosen, not yet in force: the leader fills the window with no-ops.
                if (latest.Equals(target) && group.Listener is GrainSession && target.Contains(roster.LocalReplicaId))
                {
                    // The last change is chosen and an activation that stays leads: its leadership fills the window (a
                    // move without an activation waits, since its driver resigns once done). One that leaves with this
                    // silo waits too: once it stepped aside the group had no leader while the window was open, and the
                    // new configuration's designated driver campaigned to fill it, beating the activation that had
                    // just started on a member (it failed; Orleans' migration of the grain waited 30 s for it, with
                    // the grain's calls; session 25).
                    return true;
                }
                if (!await UntilAsync(group, core => core.Config.Equals(core.Configs.Latest), cancellationToken))
                {
                    return Stalled(group, $"configuration {latest} chosen at slot {inForceFrom - 1} did not come into force");
                }
                phases.Mark("in force");
                continue;
            }
            if (change.Kind == MoveStepKind.Remove)
            {
                // Before a member leaves, every member that stays must hold the log up to where it joined (members
                // the target wants that are not in the group yet are added after this removal). That a new member
                // holds it implies the leader committed that far, so the configuration that added it is in force: the
                // catch-up and the window's no-ops overlap instead of running one after the other.
                var staying = new ClusterConfig(change.Staying!.DefaultIfEmpty(roster.LocalReplicaId));
                if (!await CaughtUpAsync(group, staying, inForceFrom - 1, cancellationToken)) return false;
                phases.Mark("caught up");
            }
            var next = change.Next!;
            group.Post(core => core.IsLeader && core.Configs.Latest.Equals(latest) ? core.ProposeConfig(next) : new Ready());
            if (!await UntilAsync(group, core => core.Configs.Latest.Equals(next), cancellationToken))
            {
                return Stalled(group, $"configuration {next} was not chosen ({await DescribeAsync(group)}; peers: {await DescribePeersAsync(group.GroupId, latest)})");
            }
            phases.Mark($"{next} chosen");
        }
        return Stalled(group, $"more than {MaxStepsPerMove} member changes");
    }

    private static async Task<string> DescribeAsync(GroupReplica group)
    {
        try
        {
            return await group.AskAsync(core => (core.DescribeConfigChange(), new Ready()));
        }
        catch (ReplicaUnavailableException e)
        {
            return e.Message;
        }
    }

    private async Task<string> DescribePeersAsync(string groupId, ClusterConfig config)
    {
        var peers = await Task.WhenAll(config.Members.Where(m => m != roster.LocalReplicaId).Select(async member =>
        {
            string state;
            try
            {
                state = await AskPeerAsync(member, groupId) is { } status ? $"commit {status.CommitIndex}, latest {{{string.Join(",", status.Latest)}}}, leader {status.Leader}"
                    : "holds no replica";
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                state = $"unreachable ({e.GetType().Name}: {e.Message})";
            }
            return $"{member}: {state}";
        }));
        return string.Join("; ", peers);
    }

    private bool Stalled(GroupReplica group, string reason)
    {
        LogMoveStalled(logger, group.GroupId, reason);
        return false;
    }

    /// <summary>Waits until every member of <paramref name="config"/> other than this silo reports a commit index of at least <paramref name="slot"/>.</summary>
    private async Task<bool> CaughtUpAsync(GroupReplica group, ClusterConfig config, long slot, CancellationToken cancellationToken)
    {
        // Deadlines on the monotonic clock: a wall clock stepped forward would end every step at once, one stepped back
        // would let a stuck step wait for the size of the step.
        long deadline = HostClock.Now + HostClock.ToTicks(StepTimeout);
        // All members at once: one after the other, each member's answer (a call to its silo, slow on a busy machine)
        // added to the move's time although the members that stay hold the slot already and only the new one waits.
        var members = await Task.WhenAll(config.Members.Where(m => m != roster.LocalReplicaId).Select(m => MemberCaughtUpAsync(group, m, slot, deadline, cancellationToken)));
        return members.All(caughtUp => caughtUp);
    }

    /// <summary>Waits until <paramref name="member"/> reports a commit index of at least <paramref name="slot"/>, or the deadline.</summary>
    private async Task<bool> MemberCaughtUpAsync(GroupReplica group, long member, long slot, long deadline, CancellationToken cancellationToken)
    {
        while (true)
        {
            cancellationToken.ThrowIfCancellationRequested();
            var remaining = TimeSpan.FromMilliseconds(deadline - HostClock.Now);
            // One call that returns once the member holds the slot (or after a second), instead of a poll per 100 ms:
            // a joining silo receives hundreds of moves at once, and the polls were calls onto that one silo.
            var answer = WaitCommittedAsync(member, group.GroupId, slot, remaining < CatchUpWait ? remaining : CatchUpWait);
            while (!answer.IsCompleted)
            {
                // A new member learns the commit index from the leader's heartbeat and fetches what it misses.
                group.Post(core => core.AnnounceCommit());
                await Task.WhenAny(answer, Task.Delay(PollInterval * 5, cancellationToken));
            }
            try
            {
                if (await answer >= slot) return true;
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Not reachable now: ask again until the deadline.
                await Task.Delay(PollInterval * 2, cancellationToken);
            }
            if (HostClock.Now > deadline)
            {
                LogNotCaughtUp(logger, group.GroupId, member, slot);
                return false;
            }
        }
    }

    private static readonly TimeSpan CatchUpWait = TimeSpan.FromSeconds(1);

    private async Task<long> WaitCommittedAsync(long member, string groupId, long slot, TimeSpan wait)
    {
        var host = HostOf(member);
        if (wait < TimeSpan.Zero) wait = TimeSpan.Zero;
        return await host.WaitCommittedAsync(groupId, slot, wait).WaitAsync(wait + PeerAskTimeout);
    }

    /// <summary>What this silo's replica knows of the group (a <see cref="TimeoutException"/> when its worker does not answer in time).</summary>
    private static Task<GroupStatus> StatusAsync(GroupReplica group) => ReplicationRuntime.StatusOfAsync(group).WaitAsync(StepTimeout);

    private static async Task<bool> UntilAsync(GroupReplica group, Func<PaxosReplica, bool> condition, CancellationToken cancellationToken)
    {
        long deadline = HostClock.Now + HostClock.ToTicks(StepTimeout);
        while (HostClock.Now < deadline)
        {
            cancellationToken.ThrowIfCancellationRequested();
            try
            {
                if (await group.AskAsync(core => (condition(core), new Ready())).WaitAsync(StepTimeout, cancellationToken)) return true;
            }
            catch (Exception e) when (e is ReplicaUnavailableException or TimeoutException)
            {
                return false; // the replica stopped, or its worker did not answer in time
            }
            // The runtime ticks only groups with work in flight; a leader waiting to prepare a new member (whose
            // replica may only now exist) needs time to pass to retransmit.
            group.Post(core => core.Tick());
            await Task.Delay(PollInterval, cancellationToken);
        }
        return false;
    }

    [LoggerMessage(Level = LogLevel.Information, Message = "Rebalance pass at roster version {Version}: {Held} groups held here, {Misplaced} not on their replica set; {Moved} moved, {Failed} failed, {Dropped} replicas dropped so far; {Width} steps at once at the end")]
    private static partial void LogPass(ILogger logger, long version, int held, int misplaced, long moved, long failed, long dropped, int width);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Moving group {GroupId} from {From} to {To}")]
    private static partial void LogMoving(ILogger logger, string groupId, string from, string to);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId} is on its replica set {To} ({Phases})")]
    private static partial void LogMoved(ILogger logger, string groupId, string to, string phases);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Dropped this silo's replica of group {GroupId}: it moved to {Config}")]
    private static partial void LogDropped(ILogger logger, string groupId, string config);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: replica {Member} did not catch up to slot {Slot} in time; the move resumes next pass")]
    private static partial void LogNotCaughtUp(ILogger logger, string groupId, long member, long slot);

    [LoggerMessage(Level = LogLevel.Information, Message = "Move of group {GroupId} stopped: {Reason}; it resumes next pass")]
    private static partial void LogMoveStalled(ILogger logger, string groupId, string reason);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId} found off its replica set {Passes} passes in a row (roster version {Version}): {Outcome}, {Why}")]
    private static partial void LogStillMisplaced(ILogger logger, string groupId, int passes, long version, Outcome outcome, string why);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: the driver this member deferred to made no progress ({Stall}); this member drives the move itself ({View})")]
    private static partial void LogTakingOver(ILogger logger, string groupId, string stall, string view);

    [LoggerMessage(Level = LogLevel.Information, Message = "Group {GroupId}: its rebalance step did not end within {Bound}; the pass goes on without it and the next pass retries once it ends")]
    private static partial void LogStepOverdue(ILogger logger, string groupId, TimeSpan bound);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId} moved to {Config}: its activation here, which still leads it, steps aside")]
    private static partial void LogSteppingAside(ILogger logger, string groupId, string config);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Group {GroupId} moved and stays here; its activation goes to replica {Replica}, first in its replica set")]
    private static partial void LogRehoming(ILogger logger, string groupId, long replica);

    [LoggerMessage(Level = LogLevel.Warning, Message = "A rebalance pass failed; the next one retries")]
    private static partial void LogPassFailed(ILogger logger, Exception exception);

    [LoggerMessage(Level = LogLevel.Debug, Message = "Grain {GrainId} did not start on its replica set after its activation here stepped aside ({Error}); its next call starts it")]
    private static partial void LogStartAtHomeFailed(ILogger logger, GrainId grainId, string error);

    /// <summary>The groups found in place at one roster version (see <c>_inPlace</c>).</summary>
    private sealed class InPlaceMemo(long version)
    {
        public long Version => version;

        public GroupIdSet Groups { get; } = new();

        /// <summary>Records <paramref name="groupId"/> as in place, if it was checked against this memo's version.</summary>
        public void Note(long checkedAt, string groupId)
        {
            if (checkedAt == version) Groups.Add(groupId);
        }
    }
}

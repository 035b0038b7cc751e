using System.Collections.Concurrent;
using Microsoft.Extensions.Logging;
using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The group replicas a silo holds in memory, and the engine's timers over them: it builds a replica on first use
/// (from what the WAL holds for it), routes inputs to it (rebuilding a group that left memory), ticks only the groups
/// with work in flight (an idle group costs no timer), flushes leaders' commit indexes, and evicts groups idle for
/// the eviction period. Free of Orleans: the silo's <see cref="ReplicationRuntime"/> and the deterministic simulator
/// both drive the same table (the runtime from a periodic timer, the simulator from simulated time).
/// </summary>
internal sealed class GroupTable(GroupStore store, ReplicationEngine engine, IEngineClock clock, int proposalCapacity, ILogger logger,
    IEqualityComparer<string>? groupIdComparer = null, Diagnostics.GroupMetrics? metrics = null)
{
    /// <summary>
    /// Ticks between commit-flush sweeps (200 ms at the silo's 20 ms tick).
    /// </summary>
    public const int CommitFlushTicks = 10;

    /// <summary>
    /// Ticks a leader must have sent its peers nothing before its commit index is flushed to them
    /// (<see cref="GroupReplica.LastSentTick"/>; 1 s at the silo's 20 ms tick), so its followers learn it that long
    /// plus a sweep late at most. A group written again within the period needs no flush: its next accepts carry the
    /// commit index. Spread load writes each grain every few hundred milliseconds, so with a 200 ms period most
    /// spread writes were still followed by a flush (a heartbeat to every follower and a step on each: 0.4–0.7 of the
    /// 4.5–5 messages of a factor-3 write and 1.6–1.9 of 11 at factor 5, docs/benchmarks.md, session 11). Nothing
    /// waits for a follower to learn a commit: reads and writes are the leader's, a new leader learns commits in its
    /// phase 1, a move asks for the commit index itself (<c>AnnounceCommit</c>), and a follower whose commit index is
    /// behind catches up from the next accept or heartbeat (the core takes an entry accepted under the ballot of the
    /// leader that told it the commit index as chosen, <c>CatchUpTests</c>). Inputs that send nothing (status asks,
    /// local reads) do not put the flush off.
    /// </summary>
    public const int CommitFlushQuietTicks = 50;

    // The simulator passes a hash that is the same in every process, so the order ticks visit groups (and so a whole
    // run) replays exactly from its seed; a silo keeps the default, randomized string hash.
    private readonly ConcurrentDictionary<string, GroupReplica> _groups = 
        groupIdComparer is null ? new() : new(groupIdComparer);

    // The groups that need ticks or a commit flush (a step told so, GroupReplica.WantsTicks): a tick visits these, not
    // every group in memory. Idle groups stay in memory for IdleGroupEvictionAfter (30 s), so a burst of new grains
    // made every tick visit tens of thousands of groups, 50 times a second (7 % of a run of births, session 21).
    private readonly ConcurrentDictionary<string, GroupReplica> _ticking =
        groupIdComparer is null ? new() : new(groupIdComparer);
    private long _evicted;
    private long _rebuilt;

    // Building a replica reads the group's records from the WAL, so it is serialized per group, not per table: under
    // one table-wide lock every load of a silo waited for every other (a rebalancer loads tens at a time), and so did
    // every message for a group not in memory, on the replica host's single turn (1-3 s per batch in a rolling restart
    // of thousands of groups, session 29). A stripe guards the groups that hash to it: a load and an eviction of one
    // group still exclude each other.
    private readonly Lock[] _stripes = Enumerable.Range(0, 64).Select(_ => new Lock()).ToArray();
    private readonly IEqualityComparer<string> _stripeHash = groupIdComparer ?? StringComparer.Ordinal;

    private Lock StripeOf(string groupId) => _stripes[StripeIndexOf(groupId)];

    /// <summary>The stripe that serializes building <paramref name="groupId"/>'s replica (tests pick groups on distinct stripes).</summary>
    internal int StripeIndexOf(string groupId) => (int)((uint)_stripeHash.GetHashCode(groupId) % (uint)_stripes.Length);

    public GroupStore Store => store;

    public ReplicationEngine Engine => engine;

    /// <summary>Groups held in memory now.</summary>
    public int Count => _groups.Count;

    /// <summary>Groups the tick visits now (work in flight or a commit to flush); the others cost nothing per tick.</summary>
    public int TickingGroups => _ticking.Count;

    /// <summary>Groups that left memory after their idle period.</summary>
    public long Evicted => Interlocked.Read(ref _evicted);

    /// <summary>Groups built from what the WAL held for them (after a restart, or after they had left memory).</summary>
    public long Rebuilt => Interlocked.Read(ref _rebuilt);

    public ICollection<GroupReplica> Groups => _groups.Values;

    /// <summary>The group's replica in memory (usable, marked as just used), or null.</summary>
    public GroupReplica? Find(string groupId) =>
        _groups.TryGetValue(groupId, out var group) && group.Usable && group.Touch() ? group : null;

    /// <summary>The group's replica in memory whatever its state (diagnostics), or null.</summary>
    public GroupReplica? Peek(string groupId) => _groups.GetValueOrDefault(groupId);

    /// <summary>
    /// The group's replica: the one in memory, or a new one built from what the WAL holds for the group (after a
    /// restart or after it left memory) or, for a group new to this silo, from <paramref name="coreOptions"/>'s
    /// initial configuration. <paramref name="make"/> builds a replica of a special kind (the meta group).
    /// </summary>
    public GroupReplica GetOrCreate(string groupId, Func<ReplicaOptions> coreOptions,
        Func<string, PaxosReplica, EngineWorker, GroupReplica>? make = null)
    {
        if (Find(groupId) is { } existing) return existing;
        lock (StripeOf(groupId))
        {
            if (Find(groupId) is { } raced) return raced;
            var options = HostOptions(coreOptions());
            var persisted = store.ReadPersisted(groupId);
            var core = persisted is null ? new PaxosReplica(options) : PaxosReplica.Restart(options, persisted);
            var worker = engine.WorkerFor(groupId);
            var group = make?.Invoke(groupId, core, worker) ?? new GroupReplica(groupId, core, worker, proposalCapacity, logger, metrics: metrics);
            if (persisted is not null) Interlocked.Increment(ref _rebuilt);
            _groups[groupId] = group;
            group.WantsTicks = WantsTicks;
            if (group.Ticks) _ticking[groupId] = group;
            return group;
        }
    }

    /// <summary>
    /// What a replica that failed (it can no longer be asked) would leave if <paramref name="left"/> holds for it,
    /// judged on the replica its records rebuild, as <see cref="GroupReplica.RetireIfAsync"/> judges a live one: every
    /// vote it sent was persisted before it was sent, so its disk shows them all, and its chosen configurations are
    /// replayed before the check. Null when <paramref name="left"/> does not hold; nothing left when it persisted
    /// nothing. Until session 36 a failed replica was dropped without the check, so a vote it had sent after its group
    /// added it back was given up (the successor's floor keeps clear of it: docs/consensus.md).
    /// </summary>
    public (long LatestFromSlot, FormerReplica Former)? RetireFailed(string groupId, ReplicaOptions coreOptions, Func<PaxosReplica, bool> left)
    {
        if (store.ReadPersisted(groupId) is not { } persisted) return (0, FormerReplica.None);
        var core = PaxosReplica.Restart(HostOptions(coreOptions), persisted);
        core.Start();
        return left(core) ? (core.Configs.LatestFromSlot, FormerReplica.Of(core)) : null;
    }

    /// <summary>The core options every grain group's replica on a silo runs with, over <paramref name="options"/>.</summary>
    private static ReplicaOptions HostOptions(ReplicaOptions options)
    {
        options.ParallelPersist = true;
        options.ShipSnapshotsToFollowers = true; // followers do not run the grain: they keep only the leader's log
        return options;
    }

    /// <summary>
    /// Retires every group (none may vote again: the log under them failed) and drops them from memory, then runs
    /// <paramref name="underLock"/> under every lock group creation takes, so no replica is built meanwhile.
    /// </summary>
    public void RetireAll(Exception failure, Action underLock)
    {
        foreach (var stripe in _stripes) stripe.Enter(); // always in the same order: no deadlock with another RetireAll
        try
        {
            foreach (var group in _groups.Values) group.Retire(failure);
            _groups.Clear();
            _ticking.Clear();
            underLock();
        }
        finally
        {
            foreach (var stripe in _stripes) stripe.Exit();
        }
    }

    /// <summary>Drops the group from memory (it no longer has a replica here); false if it was not held.</summary>
    public bool TryRemove(string groupId, out GroupReplica group)
    {
        if (!_groups.TryRemove(groupId, out group!)) return false;
        _ticking.TryRemove(new KeyValuePair<string, GroupReplica>(groupId, group));
        return true;
    }

    /// <summary>A step left <paramref name="group"/> needing ticks: it joins the set the tick visits, if it is still the group's replica here.</summary>
    private void WantsTicks(GroupReplica group)
    {
        // A replica retired or dropped while its last step ran must not take the place of the one built after it.
        if (_groups.TryGetValue(group.GroupId, out var current) && ReferenceEquals(current, group)) _ticking[group.GroupId] = group;
    }

    /// <summary>
    /// Hands <paramref name="input"/> to the group's replica, built by <paramref name="load"/> when it is not in memory
    /// (null: this silo holds no replica, the input is dropped and its sender retransmits). A group evicted between
    /// the lookup and the post is rebuilt once more; a full inbox drops the input.
    /// </summary>
    public void Deliver(string groupId, Func<PaxosReplica, Ready> input, Func<GroupReplica?> load)
    {
        for (int attempt = 0; attempt < 2; attempt++)
        {
            var group = _groups.TryGetValue(groupId, out var held) && !held.Evicted ? held : load();
            if (group is null) return;
            if (group.Post(input) || !group.Evicted) return;
        }
    }

    /// <summary>
    /// Hands <paramref name="message"/> to the group's replica if it is in memory and takes it; false otherwise (the
    /// caller then goes through <see cref="Deliver"/>, which builds or finds the replica).
    /// </summary>
    public bool TryPost(string groupId, Message message) =>
        _groups.TryGetValue(groupId, out var held) && !held.Evicted && held.Post(message);

    /// <summary>
    /// One engine tick (every <see cref="ReplicationRuntime.TickInterval"/>): groups with work in flight get a tick,
    /// leaders with unsent commits quiet for <see cref="CommitFlushQuietTicks"/> flush them (swept every
    /// <see cref="CommitFlushTicks"/>), and every
    /// <paramref name="evictAfter"/> / 4 groups idle for <paramref name="evictAfter"/> leave memory (0: never); lease
    /// renewals that reads asked for go out in rounds (<see cref="LeaseRenewals"/>).
    /// </summary>
    public void OnTick(long tick, long evictAfter, long tickInterval)
    {
        engine.PostDueRenewals(clock.Now, tickInterval);
        bool flush = tick % CommitFlushTicks == 0;
        long quietSince = clock.Now - CommitFlushQuietTicks * tickInterval;
        // The dictionary's enumerator, not .Values: that copies every group under all of the dictionary's locks, 50
        // times a second.
        foreach (var (groupId, group) in _ticking)
        {
            if (group.NeedsTicks) group.Post(static core => core.Tick());
            else if (flush && group.HasUnsentCommit && group.LastSentTick <= quietSince) group.Post(static core => core.FlushCommit());
            if (group.Ticks) continue;
            // Nothing left to tick: out of the set until a step needs ticks again. Looked at again after the removal: a
            // step that ended meanwhile found the group still in the set and did not add it.
            _ticking.TryRemove(new KeyValuePair<string, GroupReplica>(groupId, group));
            if (group.Ticks) WantsTicks(group);
        }
        long sweepEvery = Math.Max(1, evictAfter / 4 / tickInterval);
        if (evictAfter > 0 && tick % sweepEvery == 0) EvictIdle(clock.Now - evictAfter);
    }

    /// <summary>Drops groups idle (no activation, nothing in flight, commit told) since <paramref name="idleSince"/>.</summary>
    public void EvictIdle(long idleSince)
    {
        foreach (var (groupId, group) in _groups)
        {
            if (group.LastActiveTick > idleSince) continue;
            if (group.CommitNotDurable)
            {
                // Its commit index goes to disk first (one append, batched); it leaves memory after another idle period.
                if (!group.PersistsCommit) group.PersistCommitBeforeEviction();
                continue;
            }
            lock (StripeOf(groupId))
            {
                // Under the lock that GetOrCreate holds: a group handed out just now is touched and not evicted.
                if (!group.TryEvict(idleSince)) continue;
                // Counted, and the WAL's index of the group released (a rebuild finds its records on disk), before the
                // group leaves the table: whoever sees it gone also sees both. Nothing rebuilds it meanwhile: it is
                // marked evicted, so a delivery asks GetOrCreate, which waits for this stripe.
                Interlocked.Increment(ref _evicted);
                store.Release(groupId);
                _groups.TryRemove(new KeyValuePair<string, GroupReplica>(groupId, group));
                _ticking.TryRemove(new KeyValuePair<string, GroupReplica>(groupId, group));
            }
        }
    }
}

using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// One grain group's replicas on a few silos (<see cref="InMemoryGroup"/>: each silo built from a silo's real engine
/// parts, stepped by the test and joined by an in-memory network it controls), plus held replicas: messages to a held
/// replica wait until the test releases them, one at a time. A silo forgets a group only when the test says so.
/// Nothing runs on its own (no ticks, no timers): every wait is a bounded number of steps.
/// </summary>
internal sealed class GroupBench
{
    public const string GroupId = "3|benchgrain/lagging";

    private readonly InMemoryGroup _group;
    private readonly ClusterConfig _genesis;
    // For each held replica's silo: what reached it, with the sending silo, in arrival order.
    private readonly Dictionary<long, Queue<(InMemorySilo From, Message Message)>> _inboxes = [];

    /// <summary>Silos <paramref name="ids"/>; those in <paramref name="genesis"/> start with a replica of the group on it.</summary>
    public GroupBench(IEnumerable<long> ids, ClusterConfig genesis)
    {
        _genesis = genesis;
        _group = new InMemoryGroup(GroupId, ids, genesis, new ManualClock()) { Intercept = Hold };
    }

    /// <summary>Replicas whose incoming messages wait in their silo's queue until <see cref="ReleaseAsync"/>.</summary>
    public HashSet<long> Held { get; } = [];

    /// <summary>The forgotten-group notes of silo <paramref name="id"/>.</summary>
    internal ForgottenGroups Forgotten(long id) => _group.Silo(id).Forgotten;

    /// <summary>The replica on silo <paramref name="id"/>, or null when that silo holds none (or stopped for good).</summary>
    public GroupReplica? Replica(long id) => _group.Replica(id);

    /// <summary>What replica <paramref name="id"/> knows of the group, as its silo answers a peer.</summary>
    public Task<GroupStatus> StatusAsync(long id) => AskAsync(id, ReplicationRuntime.StatusOfAsync);

    /// <summary>Runs <paramref name="ask"/> on replica <paramref name="id"/>, stepping its silo until it is answered.</summary>
    public Task<T> AskAsync<T>(long id, Func<GroupReplica, Task<T>> ask) => _group.AskAsync(id, ask);

    /// <summary>Replica <paramref name="id"/> campaigns; true once it leads.</summary>
    public async Task<bool> CampaignAsync(long id)
    {
        Replica(id)!.Post(core => core.Campaign());
        await SettleAsync();
        return Replica(id)!.IsLeader;
    }

    /// <summary>The leader chooses <paramref name="count"/> commands, one slot each.</summary>
    public async Task ProposeAsync(long leader, int count)
    {
        for (int i = 0; i < count; i++)
        {
            Invariant.Assert(Replica(leader)!.Propose(new Command(Guid.Empty, 0, 0, [(byte)i])) == ProposeResult.Queued);
            await SettleAsync();
        }
    }

    /// <summary>
    /// The leader chooses <paramref name="next"/> and fills the window until it is in force, as one step of a move
    /// (<c>Rebalancer.MoveAsync</c>); false if it did not get there.
    /// </summary>
    public async Task<bool> ChangeConfigAsync(long leader, ClusterConfig next)
    {
        var group = Replica(leader)!;
        group.Post(core => core.ProposeConfig(next));
        await SettleAsync();
        var inForce = group.AskAsync(core => (core.Configs.Latest.Equals(next) && core.Config.Equals(next), new Ready()));
        await InMemoryGroup.RunUntilAsync(_group.Silo(leader), inForce);
        return await inForce;
    }

    /// <summary>The leader compacts its log where it has applied (a snapshot, shipped to the followers).</summary>
    public async Task CompactAsync(long leader)
    {
        Replica(leader)!.Post(core => core.CompactLog([]));
        await SettleAsync();
    }

    /// <summary>
    /// Silo <paramref name="id"/> forgets its replica (memory and log), as <c>ReplicationRuntime.ForgetAsync</c> does once
    /// the group left it, noting what the replica knew last.
    /// </summary>
    public async Task ForgetAsync(long id)
    {
        var silo = _group.Silo(id);
        var former = await AskAsync(id, g => g.AskAsync(core => (FormerReplica.Of(core), new Ready())));
        silo.Forgotten.Forgot(GroupId, (await StatusAsync(id)).LatestFromSlot, former);
        if (silo.Table.TryRemove(GroupId, out var group)) group.Post(core => core.Resign());
        await silo.Store.ForgetAsync(GroupId);
    }

    /// <summary>
    /// Replica <paramref name="id"/> fails (as a failed fsync or a broken invariant stops it); then its silo decides a
    /// drop on what its log holds, as <c>ReplicationRuntime.ForgetAsync</c> does for a replica that can no longer be
    /// asked (<see cref="GroupTable.RetireFailed"/>). Null when <paramref name="left"/> refuses the drop.
    /// </summary>
    public (long LatestFromSlot, FormerReplica Former)? FailThenRetire(long id, Func<PaxosReplica, bool> left)
    {
        Replica(id)!.Fail(new InvalidOperationException("failed by the test"));
        return _group.Silo(id).Table.RetireFailed(GroupId, _group.CoreOptions(id, _genesis), left);
    }

    /// <summary>
    /// Silo <paramref name="id"/>'s replica leaves memory and is built again from what its log holds, as after an
    /// eviction or a restart (messages it had not stepped yet are lost with it).
    /// </summary>
    public void Rebuild(long id) => _group.Rebuild(id);

    /// <summary>Silo <paramref name="id"/> stops for good: it steps nothing more, and messages to it are lost.</summary>
    public void StopForGood(long id) => _group.StopForGood(id);

    /// <summary>Drops every message waiting for replica <paramref name="id"/>.</summary>
    public void Drop(long id) => _inboxes.GetValueOrDefault(id)?.Clear();

    /// <summary>Delivers the oldest message waiting for held replica <paramref name="id"/>, then settles; false when none waits.</summary>
    public async Task<bool> ReleaseAsync(long id)
    {
        if (!_inboxes.TryGetValue(id, out var inbox) || inbox.Count == 0) return false;
        var (from, message) = inbox.Dequeue();
        await _group.DeliverAsync(from, _group.Silo(id), message);
        await SettleAsync();
        return true;
    }

    /// <summary>
    /// Steps every silo and delivers what they sent until nothing moves; a leader with a commit index its followers
    /// have not heard of announces it (the silo's commit flush). Throws if the group does not settle in the bound.
    /// </summary>
    public Task SettleAsync() => _group.SettleAsync();

    /// <summary>A message to a held replica waits in its silo's queue instead of being delivered.</summary>
    private bool Hold(InMemorySilo from, Message message)
    {
        if (!Held.Contains(message.To)) return false;
        if (!_inboxes.TryGetValue(message.To, out var inbox)) _inboxes[message.To] = inbox = new();
        inbox.Enqueue((from, message));
        return true;
    }
}

using Microsoft.Extensions.Logging.Abstractions;
using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using OpenReplica.Storage;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// One grain group's replicas on a few silos, each built from a silo's real engine parts (its <see cref="GroupStore"/>
/// over a <see cref="VolatileLog"/>, <see cref="ReplicationEngine"/> and <see cref="GroupTable"/>, the core options a
/// silo gives a grain group), stepped by the test and joined by an in-memory network it controls: messages to a held
/// replica wait until the test releases them, one at a time. A message naming the group on a silo that holds no
/// replica starts one from the configuration its sender knows, as <c>ReplicationRuntime.LearnGroupAsync</c> does
/// (with the same <see cref="ForgottenGroups"/> rule; a silo forgets a group only when the test says so).
/// Nothing runs on its own (no ticks, no timers): every wait is a bounded number of steps.
/// </summary>
internal sealed class GroupBench
{
    public const string GroupId = "3|benchgrain/lagging";

    // Rounds of steps and deliveries one settle may take before the test is told the group did not settle.
    private const int MaxSettleRounds = 10_000;

    private readonly Dictionary<long, BenchSilo> _silos = [];
    private readonly ReplicatedGrainsOptions _options = new();
    private readonly ClusterConfig _genesis;

    /// <summary>Silos <paramref name="ids"/>; those in <paramref name="genesis"/> start with a replica of the group on it.</summary>
    public GroupBench(IEnumerable<long> ids, ClusterConfig genesis)
    {
        _genesis = genesis;
        foreach (long id in ids) _silos[id] = new BenchSilo(id, _options.MaxQueuedProposals);
        foreach (long id in genesis.Members) CreateReplica(_silos[id], genesis);
    }

    /// <summary>Replicas whose incoming messages wait in their silo's queue until <see cref="ReleaseAsync"/>.</summary>
    public HashSet<long> Held { get; } = [];

    /// <summary>The forgotten-group notes of silo <paramref name="id"/>.</summary>
    internal ForgottenGroups Forgotten(long id) => _silos[id].Forgotten;

    /// <summary>The replica on silo <paramref name="id"/>, or null when that silo holds none (or stopped for good).</summary>
    public GroupReplica? Replica(long id) => _silos.TryGetValue(id, out var silo) ? silo.Table.Peek(GroupId) : null;

    /// <summary>What replica <paramref name="id"/> knows of the group, as its silo answers a peer.</summary>
    public Task<GroupStatus> StatusAsync(long id) => AskAsync(id, ReplicationRuntime.StatusOfAsync);

    /// <summary>Runs <paramref name="ask"/> on replica <paramref name="id"/>, stepping its silo until it is answered.</summary>
    public async Task<T> AskAsync<T>(long id, Func<GroupReplica, Task<T>> ask)
    {
        var replica = Replica(id) ?? throw new InvalidOperationException($"silo {id} holds no replica");
        var answer = ask(replica);
        await RunUntilAsync(_silos[id], answer);
        return await answer;
    }

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
        var silo = _silos[leader];
        var inForce = group.AskAsync(core => (core.Configs.Latest.Equals(next) && core.Config.Equals(next), new Ready()));
        await RunUntilAsync(silo, inForce);
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
        var silo = _silos[id];
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
        var silo = _silos[id];
        Replica(id)!.Fail(new InvalidOperationException("failed by the test"));
        return silo.Table.RetireFailed(GroupId, ReplicationRuntime.GrainGroupOptions(silo.Id, _genesis, _options, long.MinValue), left);
    }

    /// <summary>
    /// Silo <paramref name="id"/>'s replica leaves memory and is built again from what its log holds, as after an
    /// eviction or a restart (messages it had not stepped yet are lost with it).
    /// </summary>
    public void Rebuild(long id)
    {
        var silo = _silos[id];
        Invariant.Assert(silo.Table.TryRemove(GroupId, out _));
        CreateReplica(silo, _genesis);
    }

    /// <summary>Silo <paramref name="id"/> stops for good: it steps nothing more, and messages to it are lost.</summary>
    public void StopForGood(long id) => _silos.Remove(id);

    /// <summary>Drops every message waiting for replica <paramref name="id"/>.</summary>
    public void Drop(long id) => _silos[id].Inbox.Clear();

    /// <summary>Delivers the oldest message waiting for held replica <paramref name="id"/>, then settles; false when none waits.</summary>
    public async Task<bool> ReleaseAsync(long id)
    {
        var silo = _silos[id];
        if (silo.Inbox.Count == 0) return false;
        var (from, message) = silo.Inbox.Dequeue();
        await DeliverAsync(from, silo, message);
        await SettleAsync();
        return true;
    }

    /// <summary>
    /// Steps every silo and delivers what they sent until nothing moves; a leader with a commit index its followers
    /// have not heard of announces it (the silo's commit flush). Throws if the group does not settle in the bound.
    /// </summary>
    public async Task SettleAsync()
    {
        for (int round = 0; round < MaxSettleRounds; round++)
        {
            bool moved = false;
            foreach (var silo in _silos.Values)
            {
                long steps = silo.Engine.Steps;
                foreach (var worker in silo.Engine.Workers) await worker.StepAsync();
                moved |= silo.Engine.Steps != steps;
            }
            foreach (var silo in _silos.Values)
            {
                while (silo.Outbox.TryDequeue(out var message))
                {
                    moved = true;
                    await RouteAsync(silo, message);
                }
            }
            if (moved) continue;
            var unsent = _silos.Values.Select(s => s.Table.Peek(GroupId)).Where(g => g is { HasUnsentCommit: true }).ToList();
            if (unsent.Count == 0) return;
            foreach (var group in unsent) group!.Post(core => core.FlushCommit());
        }
        throw new InvalidOperationException($"the group did not settle within {MaxSettleRounds} rounds");
    }

    private async Task RouteAsync(BenchSilo from, Message message)
    {
        if (!_silos.TryGetValue(message.To, out var to)) return;
        if (Held.Contains(message.To)) to.Inbox.Enqueue((from, message));
        else await DeliverAsync(from, to, message);
    }

    private async Task DeliverAsync(BenchSilo from, BenchSilo to, Message message)
    {
        if (to.Table.Find(GroupId) is null && !await LearnGroupAsync(from, to)) return;
        to.Table.Deliver(GroupId, core => core.Step(message), () => null);
    }

    /// <summary>
    /// First contact, as <c>ReplicationRuntime.LearnGroupAsync</c>: the sender's configuration history, if
    /// <see cref="ForgottenGroups"/> lets this silo learn it, becomes the new replica's (saved as its slot-0
    /// snapshot); otherwise the message is dropped.
    /// </summary>
    private async Task<bool> LearnGroupAsync(BenchSilo from, BenchSilo to)
    {
        if (from.Table.Peek(GroupId) is not { Usable: true } sender) return false;
        var status = ReplicationRuntime.StatusOfAsync(sender);
        await RunUntilAsync(from, status);
        if (to.Forgotten.ConfigToLearn(GroupId, await status, to.Id) is not { } configs) return false;
        await to.Store.SaveInitialConfigAsync(GroupId, configs, to.Forgotten.NoteOf(GroupId));
        CreateReplica(to, configs.Latest);
        to.Forgotten.Held(GroupId);
        return true;
    }

    private void CreateReplica(BenchSilo silo, ClusterConfig config) =>
        silo.Table.GetOrCreate(GroupId, () => ReplicationRuntime.GrainGroupOptions(silo.Id, config, _options, long.MinValue));

    /// <summary>Steps <paramref name="silo"/> until <paramref name="task"/> (an ask posted to one of its replicas) is done.</summary>
    private static async Task RunUntilAsync(BenchSilo silo, Task task)
    {
        for (int step = 0; step < MaxSettleRounds && !task.IsCompleted; step++)
        {
            foreach (var worker in silo.Engine.Workers) await worker.StepAsync();
        }
        Invariant.Assert(task.IsCompleted);
    }

    /// <summary>One silo: its engine parts and what its network holds.</summary>
    private sealed class BenchSilo : IEngineNetwork
    {
        public BenchSilo(long id, int proposalCapacity)
        {
            Id = id;
            Store = new GroupStore(new VolatileLog());
            var clock = new ManualClock();
            Engine = new ReplicationEngine(1, ReplicatedGrainsOptions.DefaultEngineMaxGroupsPerStep, Store, this, clock, NullLogger.Instance);
            Table = new GroupTable(Store, Engine, clock, proposalCapacity, NullLogger.Instance);
        }

        public long Id { get; }

        public GroupStore Store { get; }

        public ReplicationEngine Engine { get; }

        public GroupTable Table { get; }

        public ForgottenGroups Forgotten { get; } = new();

        /// <summary>Sent by this silo, not delivered yet.</summary>
        public Queue<Message> Outbox { get; } = new();

        /// <summary>For a held replica on this silo: what reached it, with the sending silo, in arrival order.</summary>
        public Queue<(BenchSilo From, Message Message)> Inbox { get; } = new();

        public void Send(IReadOnlyList<(GroupReplica Group, Message Message)> messages)
        {
            foreach (var (_, message) in messages) Outbox.Enqueue(message);
        }
    }
}

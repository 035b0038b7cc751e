using Microsoft.Extensions.Logging.Abstractions;
using OpenReplica.Consensus;
using OpenReplica.Storage;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// One group's replicas on a few in-memory silos, each built from the parts a silo builds its grain groups from (its
/// <see cref="GroupStore"/> over a <see cref="VolatileLog"/>, <see cref="ReplicationEngine"/>, <see cref="GroupTable"/>,
/// the grain groups' core options), stepped by the caller and joined by an in-memory network: every message is
/// encoded and decoded as the transport does. A message naming the group on a silo that holds no replica starts one
/// from the configuration its sender knows, as <c>ReplicationRuntime.LearnGroupAsync</c> does (with the same
/// <see cref="ForgottenGroups"/> rule). Nothing runs on its own (no ticks, no timers): every wait is a bounded number
/// of steps. The silo's warm-up (<see cref="WarmUpGroup"/>) and the engine tests that build histories by hand use it.
/// </summary>
internal sealed class InMemoryGroup
{
    // Rounds of steps and deliveries one settle may take before the caller is told the group did not settle.
    private const int MaxSettleRounds = 10_000;

    private readonly Dictionary<long, InMemorySilo> _silos = [];
    private readonly ClusterConfig _genesis;

    /// <summary>Silos <paramref name="ids"/>; those in <paramref name="genesis"/> start with a replica of group <paramref name="groupId"/>.</summary>
    public InMemoryGroup(string groupId, IEnumerable<long> ids, ClusterConfig genesis, IEngineClock clock)
    {
        GroupId = groupId;
        _genesis = genesis;
        foreach (long id in ids) _silos[id] = new InMemorySilo(id, clock, Options.MaxQueuedProposals);
        foreach (long id in genesis.Members) CreateReplica(_silos[id], genesis);
    }

    public string GroupId { get; }

    /// <summary>The options the replicas' core options come from (the library's defaults).</summary>
    public ReplicatedGrainsOptions Options { get; } = new();

    /// <summary>
    /// Sees each message sent to a silo before it is delivered; true when it took the message (holds or drops it).
    /// Null: every message is delivered.
    /// </summary>
    public Func<InMemorySilo, Message, bool>? Intercept { get; set; }

    public InMemorySilo Silo(long id) => _silos[id];

    /// <summary>The replica on silo <paramref name="id"/>, or null when that silo holds none (or stopped for good).</summary>
    public GroupReplica? Replica(long id) => _silos.TryGetValue(id, out var silo) ? silo.Table.Peek(GroupId) : null;

    /// <summary>Runs <paramref name="ask"/> on replica <paramref name="id"/>, stepping its silo until it is answered.</summary>
    public async Task<T> AskAsync<T>(long id, Func<GroupReplica, Task<T>> ask)
    {
        var replica = Replica(id) ?? throw new InvalidOperationException($"silo {id} holds no replica");
        var answer = ask(replica);
        await RunUntilAsync(_silos[id], answer);
        return await answer;
    }

    /// <summary>The core options a silo gives a replica of the group, with <paramref name="config"/> as its initial configuration.</summary>
    public ReplicaOptions CoreOptions(long id, ClusterConfig config) => ReplicationRuntime.GrainGroupOptions(id, config, Options, long.MinValue);

    public void CreateReplica(InMemorySilo silo, ClusterConfig config) => silo.Table.GetOrCreate(GroupId, () => CoreOptions(silo.Id, config));

    /// <summary>Silo <paramref name="id"/>'s replica leaves memory and is built again from what its log holds (an eviction, a restart).</summary>
    public void Rebuild(long id)
    {
        var silo = _silos[id];
        Invariant.Assert(silo.Table.TryRemove(GroupId, out _));
        CreateReplica(silo, _genesis);
    }

    /// <summary>Silo <paramref name="id"/> stops for good: it steps nothing more, and messages to it are lost.</summary>
    public void StopForGood(long id) => _silos.Remove(id);

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
                while (silo.Outbox.TryDequeue(out var sent))
                {
                    moved = true;
                    var message = WireCodec.DecodeMessage(WireCodec.Encode(sent));
                    if (_silos.TryGetValue(message.To, out var to) && Intercept?.Invoke(silo, message) != true) await DeliverAsync(silo, to, message);
                }
            }
            if (moved) continue;
            var unsent = _silos.Values.Select(s => s.Table.Peek(GroupId)).Where(g => g is { HasUnsentCommit: true }).ToList();
            if (unsent.Count == 0) return;
            foreach (var group in unsent) group!.Post(core => core.FlushCommit());
        }
        throw new InvalidOperationException($"group {GroupId} did not settle within {MaxSettleRounds} rounds");
    }

    /// <summary>Hands <paramref name="message"/> from <paramref name="from"/> to silo <paramref name="to"/>'s replica (starting one on first contact).</summary>
    public async Task DeliverAsync(InMemorySilo from, InMemorySilo to, Message message)
    {
        if (to.Table.Find(GroupId) is null && !await LearnGroupAsync(from, to)) return;
        to.Table.Deliver(GroupId, core => core.Step(message), () => null);
    }

    /// <summary>
    /// First contact, as <c>ReplicationRuntime.LearnGroupAsync</c>: the sender's configuration history, if
    /// <see cref="ForgottenGroups"/> lets this silo learn it, becomes the new replica's (saved as its slot-0
    /// snapshot); otherwise the message is dropped.
    /// </summary>
    private async Task<bool> LearnGroupAsync(InMemorySilo from, InMemorySilo to)
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

    /// <summary>Steps <paramref name="silo"/> until <paramref name="task"/> (an ask posted to one of its replicas) is done.</summary>
    public static async Task RunUntilAsync(InMemorySilo silo, Task task)
    {
        for (int step = 0; step < MaxSettleRounds && !task.IsCompleted; step++)
        {
            foreach (var worker in silo.Engine.Workers) await worker.StepAsync();
        }
        Invariant.Assert(task.IsCompleted);
    }
}

/// <summary>One silo of an <see cref="InMemoryGroup"/>: its engine parts and the messages it sent, not delivered yet.</summary>
internal sealed class InMemorySilo : IEngineNetwork
{
    public InMemorySilo(long id, IEngineClock clock, int proposalCapacity)
    {
        Id = id;
        Store = new GroupStore(new VolatileLog());
        Engine = new ReplicationEngine(1, ReplicatedGrainsOptions.DefaultEngineMaxGroupsPerStep, Store, this, clock, NullLogger.Instance);
        Table = new GroupTable(Store, Engine, clock, proposalCapacity, NullLogger.Instance);
    }

    public long Id { get; }

    public GroupStore Store { get; }

    public ReplicationEngine Engine { get; }

    public GroupTable Table { get; }

    /// <summary>The silo's forgotten-group notes (a silo forgets a group only when its caller says so).</summary>
    public ForgottenGroups Forgotten { get; } = new();

    /// <summary>Sent by this silo, not delivered yet.</summary>
    public Queue<Message> Outbox { get; } = new();

    public void Send(IReadOnlyList<(GroupReplica Group, Message Message)> messages)
    {
        foreach (var (_, message) in messages) Outbox.Enqueue(message);
    }
}

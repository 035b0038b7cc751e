using System.Text;
using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

/// <summary>
/// What one replica persisted. The harness writes each Ready here before it queues that Ready's messages,
/// so a crash keeps exactly what a peer may have seen a vote for.
/// </summary>
internal sealed class MemoryDisk
{
    private readonly List<LogEntry> _entries = [];

    public HardState HardState { get; private set; } = PersistentState.Empty.HardState;

    public Snapshot? Snapshot { get; private set; }

    public void Persist(Ready ready)
    {
        _entries.AddRange(ready.Entries);
        if (ready.HardState is { } hs) HardState = hs;
        if (ready.SnapshotToPersist is { } snap && (Snapshot is null || snap.Slot > Snapshot.Slot))
        {
            Snapshot = snap;
            _entries.RemoveAll(e => e.Slot <= snap.Slot);
        }
    }

    public PersistentState Load() => new(HardState, Snapshot, _entries.ToList());
}

/// <summary>One replica and its host: the core, its disk, and what the host saw it do.</summary>
internal sealed class Node(long id, ReplicaOptions options)
{
    public long Id { get; } = id;
    public ReplicaOptions Options { get; } = options;
    public MemoryDisk Disk { get; } = new();
    public PaxosReplica? Core { get; set; }

    /// <summary>The state machine: payloads of applied, non-duplicate commands, in order.</summary>
    public List<string> State { get; } = [];

    public List<CommittedEntry> Committed { get; } = [];
    public List<ProposalRejection> Rejections { get; } = [];
    public List<Command> Abandoned { get; } = [];
    public List<ReadState> Reads { get; } = [];
    public List<long> FailedReads { get; } = [];
    public int SnapshotsInstalled { get; set; }

    public bool IsUp => Core is not null;

    public PaxosReplica R => Core ?? throw new InvalidOperationException($"r{Id} is down");

    public byte[] SerializeState() => Encoding.UTF8.GetBytes(string.Join("\n", State));

    public void LoadState(byte[] bytes)
    {
        State.Clear();
        if (bytes.Length > 0) State.AddRange(Encoding.UTF8.GetString(bytes).Split('\n'));
    }
}

/// <summary>
/// A tiny host for N replicas with a message queue the test delivers explicitly. No clock: time passes only
/// through <see cref="Tick"/>. Drop filters and isolation are applied when a message is sent and delivered.
/// </summary>
internal sealed class Cluster
{
    public static readonly Guid ClientA = new("aaaaaaaa-0000-0000-0000-000000000001");
    public static readonly Guid ClientB = new("bbbbbbbb-0000-0000-0000-000000000002");

    private readonly List<Func<Message, bool>> _dropFilters = [];
    private readonly HashSet<long> _isolated = [];
    private readonly Dictionary<Guid, long> _nextSequence = [];

    public Cluster(int replicas, Action<ReplicaOptions>? configure = null)
    {
        Genesis = new ClusterConfig(Enumerable.Range(1, replicas).Select(i => (long)i));
        BaseOptions = new ReplicaOptions
        {
            InitialConfig = Genesis,
            Window = 4,
            ElectionTimeoutTicks = 0,
            HeartbeatTicks = 2,
            RetransmitTicks = 4,
            RandomSeed = 7,
        };
        configure?.Invoke(BaseOptions);
        foreach (long id in Genesis.Members) AddNode(id);
    }

    public ClusterConfig Genesis { get; }
    public ReplicaOptions BaseOptions { get; }
    public SortedDictionary<long, Node> Nodes { get; } = [];

    /// <summary>Messages sent and not yet delivered, oldest first.</summary>
    public List<Message> Queue { get; } = [];

    public List<Message> Dropped { get; } = [];

    /// <summary>Every message any replica sent, dropped or not.</summary>
    public List<Message> Sent { get; } = [];

    /// <summary>Every message handed to a live replica.</summary>
    public List<Message> Delivered { get; } = [];

    /// <summary>Called with (replica, ready) after each Ready is handled, for traces.</summary>
    public Action<long, Ready>? OnReady { get; set; }

    public PaxosReplica this[long id] => Nodes[id].R;

    public Node Node(long id) => Nodes[id];

    /// <summary>A replica with an empty disk; it starts from the genesis config like every replica.</summary>
    public Node AddNode(long id, Action<ReplicaOptions>? configure = null)
    {
        var options = BaseOptions.Clone();
        options.ReplicaId = id;
        configure?.Invoke(options);
        var node = new Node(id, options) { Core = new PaxosReplica(options) };
        Nodes[id] = node;
        return node;
    }

    /// <summary>
    /// A member added back after its silo dropped its replica: a new replica under <paramref name="id"/> from
    /// <paramref name="view"/> that keeps what the dropped one left (<see cref="PaxosReplica.StartOver"/>).
    /// </summary>
    public Node StartOver(long id, ConfigHistory view, FormerReplica former, PlantedBug bugs = PlantedBug.None)
    {
        var options = BaseOptions.Clone();
        options.ReplicaId = id;
        options.InitialConfigs = view;
        options.PlantedBugs = bugs;
        options.AllowPlantedBugs = bugs != PlantedBug.None;
        var node = new Node(id, options) { Core = PaxosReplica.StartOver(options, former) };
        Nodes[id] = node;
        return node;
    }

    /// <summary>Persist, then send, then install and apply: the order the core's contract demands.</summary>
    public Ready Handle(long id, Ready ready)
    {
        var node = Nodes[id];
        node.Disk.Persist(ready);
        foreach (var m in ready.Messages)
        {
            Sent.Add(m);
            if (IsDropped(m)) Dropped.Add(m);
            else Queue.Add(m);
        }
        if (ready.SnapshotToInstall is { } snap)
        {
            node.LoadState(snap.AppState);
            node.SnapshotsInstalled++;
        }
        foreach (var entry in ready.Committed)
        {
            node.Committed.Add(entry);
            foreach (var c in entry.Commands.Where(c => !c.IsDuplicate)) node.State.Add(Encoding.UTF8.GetString(c.Command.Payload));
        }
        node.Rejections.AddRange(ready.Rejections);
        node.Abandoned.AddRange(ready.Abandoned);
        node.Reads.AddRange(ready.Reads);
        node.FailedReads.AddRange(ready.FailedReads);
        OnReady?.Invoke(id, ready);
        return ready;
    }

    private bool IsDropped(Message m) =>
        _isolated.Contains(m.From) || _isolated.Contains(m.To) || _dropFilters.Any(f => f(m));

    // ---- inputs ----

    public Ready Campaign(long id) => Handle(id, this[id].Campaign());

    public Ready Tick(long id, int ticks = 1)
    {
        var all = new Ready();
        for (int i = 0; i < ticks; i++) all.Append(Handle(id, this[id].Tick()));
        return all;
    }

    public void TickAll(int ticks = 1)
    {
        for (int i = 0; i < ticks; i++)
        {
            foreach (var node in Nodes.Values.Where(n => n.IsUp)) Handle(node.Id, node.R.Tick());
        }
    }

    public Command NewCommand(string payload, Guid? client = null, long firstUnacknowledged = 0)
    {
        var c = client ?? ClientA;
        long seq = _nextSequence.TryGetValue(c, out long s) ? s + 1 : 1;
        _nextSequence[c] = seq;
        return new Command(c, seq, firstUnacknowledged, Encoding.UTF8.GetBytes(payload));
    }

    public Ready Propose(long id, params string[] payloads) => Handle(id, this[id].Propose(payloads.Select(p => NewCommand(p))));

    public Ready Propose(long id, Command command) => Handle(id, this[id].Propose(command));

    public Ready ProposeConfig(long id, ClusterConfig config) => Handle(id, this[id].ProposeConfig(config));

    public Ready ReadIndex(long id, long requestId) => Handle(id, this[id].ReadIndex(requestId));

    public Ready Compact(long id) => Handle(id, this[id].CompactLog(Nodes[id].SerializeState()));

    /// <summary>Campaigns on <paramref name="id"/> and delivers until it leads.</summary>
    public void Elect(long id)
    {
        Campaign(id);
        DeliverAll();
        Assert.True(this[id].IsLeader, $"r{id} should lead: {this[id]}");
    }

    // ---- the network ----

    /// <summary>Delivers one message (the first queued one matching <paramref name="filter"/>); false when none.</summary>
    public bool DeliverOne(Func<Message, bool>? filter = null)
    {
        int index = filter is null ? (Queue.Count > 0 ? 0 : -1) : Queue.FindIndex(m => filter(m));
        if (index < 0) return false;
        var m = Queue[index];
        Queue.RemoveAt(index);
        Deliver(m);
        return true;
    }

    public void Deliver(Message m)
    {
        if (IsDropped(m) || !Nodes.TryGetValue(m.To, out var node) || !node.IsUp)
        {
            Dropped.Add(m);
            return;
        }
        Delivered.Add(m);
        Handle(m.To, node.R.Step(m));
    }

    /// <summary>Delivers until the queue is empty (new messages included); returns how many were delivered.</summary>
    public int DeliverAll(int limit = 100_000)
    {
        int delivered = 0;
        while (Queue.Count > 0)
        {
            if (++delivered > limit) throw new InvalidOperationException("messages never stop: livelock in the harness");
            DeliverOne();
        }
        return delivered;
    }

    /// <summary>Delivers only the messages queued now that match (not the ones they cause).</summary>
    public int DeliverQueued(Func<Message, bool> filter)
    {
        var batch = Queue.Where(filter).ToList();
        foreach (var m in batch) Queue.Remove(m);
        foreach (var m in batch) Deliver(m);
        return batch.Count;
    }

    /// <summary>Drops queued messages that match now, and every later one until <see cref="Heal"/>.</summary>
    public void Drop(Func<Message, bool> filter)
    {
        _dropFilters.Add(filter);
        DropQueued(filter);
    }

    /// <summary>Drops only the messages queued now that match.</summary>
    public int DropQueued(Func<Message, bool> filter)
    {
        var gone = Queue.Where(filter).ToList();
        foreach (var m in gone) Queue.Remove(m);
        Dropped.AddRange(gone);
        return gone.Count;
    }

    public void Isolate(long id)
    {
        _isolated.Add(id);
        DropQueued(m => m.From == id || m.To == id);
    }

    public void Heal()
    {
        _isolated.Clear();
        _dropFilters.Clear();
    }

    // ---- crashes ----

    /// <summary>Loses everything but the disk.</summary>
    public void Crash(long id)
    {
        var node = Nodes[id];
        node.Core = null;
        node.State.Clear();
        Queue.RemoveAll(m => m.To == id);
    }

    /// <summary>Rebuilds the replica from its disk and replays committed entries through Start().</summary>
    public Ready Restart(long id)
    {
        var node = Nodes[id];
        var state = node.Disk.Load();
        node.Core = PaxosReplica.Restart(node.Options, state);
        node.LoadState(state.Snapshot?.AppState ?? []);
        return Handle(id, node.R.Start());
    }

    /// <summary>A replica that lost its disk and comes back under the same id (unsafe: the protocol forbids it).</summary>
    public void RestartWithAmnesia(long id)
    {
        var fresh = new Node(id, Nodes[id].Options) { Core = new PaxosReplica(Nodes[id].Options) };
        Nodes[id] = fresh;
    }

    /// <summary>Payloads applied by every live replica, which must agree on a common prefix.</summary>
    public IReadOnlyList<string> StateOf(long id) => Nodes[id].State;
}

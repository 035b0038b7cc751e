using OpenReplica.Checker;
using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>The outcome of one seed.</summary>
public sealed record SimulationResult(ulong Seed, SimulationFailure? Failure, long CommandsCommitted, long FaultsInjected,
    long MessagesDelivered, int Operations, FaultModel Faults, int ReAdds = 0, int LateDrops = 0)
{
    public bool Passed => Failure is null;
}

/// <summary>
/// One deterministic run: replicas of the core, clients, a faulty network, crashes, partitions and
/// reconfigurations, all driven by one seed in one thread with simulated time. A safety phase with faults is
/// followed by a liveness phase without them, in which every pending operation must finish within a bound.
/// </summary>
public sealed class Simulation
{
    public const int TickInterval = 10;
    public const int ClientTimeout = 400;
    public const long SafetyPhaseTime = 15_000;
    public const long LivenessBound = 20_000;
    public const int MaxSessions = 1_000;

    private readonly PriorityQueue<Action, (long Time, long Order)> _events = new();
    private readonly Dictionary<long, SimNode> _nodes = [];
    private readonly List<SimClient> _clients = [];
    private readonly Dictionary<string, string> _lastWritten = [];
    private readonly HashSet<(long From, long To)> _blocked = [];
    private readonly HashSet<long> _cutOff = []; // the re-add nemesis's side: cut from every other replica, also ones added later
    private readonly ClusterConfig _genesis;
    private readonly ReplicaOptions _baseOptions;
    private readonly Action<string>? _trace;
    private readonly PlantedBug _bugs;
    private long _order;
    private long _nextReplicaId;
    private long _activation; // campaign mode: the replica the "grain directory" last activated
    private long _partitionEndsAt = -1;
    private bool _faultsOn = true;
    private readonly ReAddNemesis? _reAddNemesis;
    private readonly LateDropNemesis? _lateDropNemesis;
    private readonly NewMemberNemesis? _newMemberNemesis;
    private long? _votesOnly; // the late-drop nemesis's victim: hears accepts and answers them, nothing else
    private readonly SortedDictionary<long, ConfigHistory> _unstarted = []; // members proposed whose replica starts later

    public Simulation(ulong seed, PlantedBug bugs = PlantedBug.None, Action<string>? trace = null, FaultModel? faults = null)
    {
        Seed = seed;
        Random = new DeterministicRandom(seed);
        Faults = faults ?? FaultModel.FromSeed(seed);
        Checks = new SafetyChecks(MaxSessions);
        _trace = trace;
        _bugs = bugs;
        _genesis = new ClusterConfig(Enumerable.Range(1, Faults.Replicas).Select(i => (long)i));
        _nextReplicaId = Faults.Replicas + 1;
        _baseOptions = new ReplicaOptions
        {
            InitialConfig = _genesis,
            Window = Faults.Window,
            MaxBatchCommands = Faults.MaxBatchCommands,
            ElectionTimeoutTicks = Faults.ElectionMode ? 10 : 0,
            HeartbeatTicks = 2,
            RetransmitTicks = 4,
            MaxCatchUpEntries = 64,
            MaxSessions = MaxSessions,
            RandomSeed = seed,
            LeaseDuration = Faults.LeaseDuration,
            AcceptSpares = Faults.AcceptSpares,
            PlantedBugs = bugs,
            AllowPlantedBugs = bugs != PlantedBug.None,
        };
        if (Faults.ReAddNemesis) _reAddNemesis = new ReAddNemesis(this);
        if (Faults.LateDropNemesis) _lateDropNemesis = new LateDropNemesis(this);
        if (Faults.NewMemberNemesis) _newMemberNemesis = new NewMemberNemesis(this);
    }

    public ulong Seed { get; }
    public DeterministicRandom Random { get; }
    public FaultModel Faults { get; }
    public SafetyChecks Checks { get; }
    public long Now { get; private set; }
    public bool AcceptingNewOperations => _faultsOn;
    public long FaultsInjected { get; private set; }
    public long MessagesDelivered { get; private set; }
    public IReadOnlyList<long> ReplicaIds => _nodes.Keys.Order().ToList();

    public static SimulationResult Run(ulong seed, PlantedBug bugs = PlantedBug.None, Action<string>? trace = null) =>
        new Simulation(seed, bugs, trace).Run();

    public SimulationResult Run()
    {
        SimulationFailure? failure = null;
        try
        {
            Trace($"seed {Seed}: {Faults}");
            foreach (long id in _genesis.Members) AddNode(id);
            if (!Faults.ElectionMode) ActivateSomewhere();
            for (int i = 0; i < Faults.Clients; i++)
            {
                var client = new SimClient(i, this);
                _clients.Add(client);
                Schedule(Random.Next(0, 50), client.StartNext);
            }
            Schedule(TickInterval, FaultTick);

            RunUntil(SafetyPhaseTime);
            HealEverything();
            long deadline = Now + LivenessBound;
            while (Now < deadline && !(AllClientsIdle() && Converged())) RunUntil(Now + 100);
            if (!AllClientsIdle())
            {
                throw new SimulationFailure("liveness", $"operations still pending {LivenessBound} time units after faults stopped: " +
                    string.Join("; ", _clients.Select(c => c.Describe()).Where(d => d is not null)));
            }
            if (!Converged())
            {
                throw new SimulationFailure("liveness", "replicas did not converge after faults stopped: " +
                    string.Join("; ", _nodes.Values.Select(n => n.Core?.ToString() ?? $"r{n.Id} down")));
            }
            Checks.CheckStatesAndExactlyOnce(_nodes.Values.ToList(), _clients);
            SafetyChecks.CheckLinearizable(FinalHistory());
        }
        catch (SimulationFailure f)
        {
            failure = f;
        }
        catch (InvariantViolationException e)
        {
            failure = new SimulationFailure("core invariant", e.Message);
        }
        catch (Exception e) when (e is not OutOfMemoryException)
        {
            failure = new SimulationFailure("exception", e.ToString());
        }
        Trace(failure is null ? "seed passed" : $"seed FAILED: {failure.Message}");
        return new SimulationResult(Seed, failure, Checks.CommandsCommitted, FaultsInjected, MessagesDelivered,
            _clients.Sum(c => c.History.Count), Faults, ReAdds, _lateDropNemesis?.LateDrops ?? 0);
    }

    // ----- time and events -----

    public void Schedule(long delay, Action action) => _events.Enqueue(action, (Now + Math.Max(0, delay), _order++));

    private void RunUntil(long time)
    {
        while (_events.TryPeek(out _, out var at) && at.Time <= time)
        {
            var action = _events.Dequeue();
            Now = at.Time;
            if (Faults.LeaseDuration > 0) foreach (var node in _nodes.Values) node.Core?.SetClock(node.ClockAt(Now));
            action();
        }
        Now = Math.Max(Now, time);
    }

    public bool Tracing => _trace is not null;

    public void Trace(string line) => _trace?.Invoke($"[t={Now,6}] {line}");

    // ----- network -----

    public void SendReplicaMessage(Message m)
    {
        if (_blocked.Contains((m.From, m.To)) || (_cutOff.Count > 0 && _cutOff.Contains(m.From) != _cutOff.Contains(m.To))) return;
        if (_votesOnly is { } v && ((m.To == v && m is not Accept) || (m.From == v && m is not Accepted))) return;
        Transmit(m, () =>
        {
            if (_nodes.TryGetValue(m.To, out var node) && node.Core is { } core)
            {
                MessagesDelivered++;
                if (Tracing) Trace(TraceFormat.Describe(m));
                node.Handle(core.Step(m));
            }
        });
    }

    public void SendToReplica(long clientEndpoint, long replica, ClientRequest request) =>
        Transmit(request, () =>
        {
            if (_nodes.TryGetValue(replica, out var node) && node.IsUp)
            {
                if (Tracing) Trace($"c{clientEndpoint}->r{replica} {TraceFormat.Describe(request)}");
                node.OnClientRequest(request);
            }
        });

    public void SendToClient(long replica, long endpoint, ClientReply reply) =>
        Transmit(reply, () =>
        {
            if (Tracing) Trace($"r{replica}->c{endpoint} {TraceFormat.Describe(reply)}");
            _clients[(int)(endpoint - 100_000)].OnReply(reply);
        });

    /// <summary>Drops, duplicates and delays (hence reorders) a message according to this seed's fault rates.</summary>
    private void Transmit(object message, Action deliver)
    {
        if (_faultsOn && Random.Chance(Faults.DropRate))
        {
            FaultsInjected++;
            return;
        }
        int copies = _faultsOn && Random.Chance(Faults.DuplicateRate) ? 2 : 1;
        if (copies == 2) FaultsInjected++;
        for (int i = 0; i < copies; i++)
        {
            long delay = 1 + Random.Next(0, Faults.MaxDelay);
            if (_faultsOn && Random.Chance(Faults.LongDelayRate)) delay += Random.Next(50, 500);
            Schedule(delay, deliver);
        }
    }

    // ----- replicas -----

    private SimNode AddNode(long id, ConfigHistory? view = null, FormerReplica former = default, bool addedBefore = false)
    {
        var options = _baseOptions.Clone();
        options.ReplicaId = id;
        options.InitialConfigs = view;
        // As the host: only a silo that dropped a replica of the group before takes a floor from the view it starts from.
        options.ViewSetsVoteFloor = addedBefore;
        var node = new SimNode(id, options, this);
        if (Faults.LeaseDuration > 0)
        {
            // Each replica's clock: its own origin and a rate within 1.5 % of real time (the leader's margin covers it).
            node.ClockRatePerMille = Random.Next(985, 1016);
            node.ClockOrigin = Random.Next(0, 1_000_000);
        }
        _nodes[id] = node;
        node.Boot(fresh: true, former);
        ScheduleTick(node);
        return node;
    }

    private void ScheduleTick(SimNode node)
    {
        int incarnation = node.Incarnation;
        Schedule(TickInterval, () =>
        {
            if (node.Incarnation != incarnation || node.Core is not { } core) return;
            node.Handle(core.Tick());
            ScheduleTick(node);
        });
    }

    /// <summary>
    /// Where a client sends a new operation: a replica that believes it leads. While two do (a stale leader cut
    /// off by a partition, or a duplicate activation), either may be picked, as clients with stale routing would.
    /// </summary>
    public long GuessLeader()
    {
        var leaders = _nodes.Values.Where(n => n.Core is { IsLeader: true }).ToList();
        if (leaders.Count == 1) return leaders[0].Id;
        if (leaders.Count > 1) return leaders[Random.Next(0, leaders.Count)].Id;
        return ReplicaIds[Random.Next(0, _nodes.Count)];
    }

    public string? LastWrittenValue(string key) => _lastWritten.GetValueOrDefault(key);

    public void NoteWritten(string key, string value) => _lastWritten[key] = value;

    // ----- faults -----

    private void FaultTick()
    {
        if (!_faultsOn) return;
        if (_partitionEndsAt >= 0 && Now >= _partitionEndsAt) HealPartition();
        if (_partitionEndsAt < 0 && Random.Chance(Faults.PartitionRate)) StartPartition();
        if (Random.Chance(Faults.CrashRate)) CrashOne();
        if (Random.Chance(Faults.ReconfigRate)) Reconfigure();
        _reAddNemesis?.Tick();
        _lateDropNemesis?.Tick();
        _newMemberNemesis?.Tick();
        if (!Faults.ElectionMode)
        {
            if (Random.Chance(Faults.DuelRate)) Duel();
            MaybeReactivate();
        }
        Schedule(TickInterval, FaultTick);
    }

    private void StartPartition()
    {
        FaultsInjected++;
        var (side, oneWay) = PartitionCut.Draw(Random, ReplicaIds, _blocked);
        _partitionEndsAt = Now + Random.Next(50, 1500);
        Trace($"partition {(oneWay ? "one-way" : "symmetric")} {{{string.Join(",", side)}}} until t={_partitionEndsAt}");
    }

    private void HealPartition()
    {
        _blocked.Clear();
        _partitionEndsAt = -1;
        Trace("partition healed");
    }

    private void CrashOne()
    {
        var up = _nodes.Values.Where(n => n.IsUp).ToList();
        if (up.Count == 0) return;
        var victim = up[Random.Next(0, up.Count)];
        FaultsInjected++;
        Trace($"crash r{victim.Id}");
        victim.Crash();
        Schedule(Random.Next(50, 800), () => Restart(victim));
    }

    private void Restart(SimNode node)
    {
        if (node.IsUp || !ReferenceEquals(_nodes[node.Id], node)) return; // up, or its silo dropped it (a new replica took its id)
        Trace($"restart r{node.Id} from disk (promised={node.Disk.HardState.Promised}, commit={node.Disk.HardState.CommitIndex})");
        node.Boot(fresh: false);
        ScheduleTick(node);
    }

    /// <summary>Adds, removes or replaces a replica through the leader's log; a new replica starts with an empty disk.</summary>
    private void Reconfigure()
    {
        if (Leader is not { Core: { } core } leader) return;
        var current = core.Configs.Latest;
        int kind = Random.Next(0, 3);
        // Decided without a draw when no member can be added back, so that every other seed runs as before this option.
        var droppable = kind == 0 && current.Members.Count < Faults.Replicas + 1 ? DroppedMembers(core) : [];
        if (droppable.Count > 0 && Random.Chance(0.75))
        {
            AddBack(leader, droppable[Random.Next(0, droppable.Count)]);
            return;
        }
        ClusterConfig next;
        if (kind == 0 && current.Members.Count < Faults.Replicas + 1) next = current.With(_nextReplicaId);
        else if (kind == 1 && current.Members.Count > 3) next = current.Without(current.Members[Random.Next(0, current.Members.Count)]);
        else next = current.Replace(current.Members[Random.Next(0, current.Members.Count)], _nextReplicaId);
        ProposeConfig(leader, next);
    }

    /// <summary>Proposes <paramref name="next"/> through <paramref name="leader"/>, starting an empty replica for a new id it names.</summary>
    internal void ProposeConfig(SimNode leader, ClusterConfig next, string why = "") => ProposeConfig(leader, leader.Core!, next, why);

    /// <summary>
    /// Proposes <paramref name="next"/>, which names a new id (<see cref="NextReplicaId"/>), through <paramref name="leader"/>
    /// without starting its replica: <see cref="AddMember"/> starts it later, as a silo does on the first message that names it.
    /// </summary>
    internal long ProposeNewMemberLater(SimNode leader, ClusterConfig next, string why)
    {
        long id = _nextReplicaId++; // taken first: ProposeConfig then starts no replica for it
        _unstarted[id] = leader.Core!.Configs; // started from this view when faults stop, if not before
        ProposeConfig(leader, next, why);
        return id;
    }

    /// <summary>Starts a member <see cref="ProposeNewMemberLater"/> left unstarted, from the view it was proposed with.</summary>
    internal void StartUnstarted(long id)
    {
        if (_unstarted.TryGetValue(id, out var view)) AddMember(id, view);
    }

    /// <summary>Starts the replica of a member added for the first time, from <paramref name="view"/> (no vote floor: it has no earlier votes).</summary>
    internal SimNode AddMember(long id, ConfigHistory view)
    {
        _unstarted.Remove(id);
        return AddNode(id, view);
    }

    // The core is passed on its own: a leader outside its configuration can be the member added back, whose old replica
    // AddBack has just crashed (it still proposes, as a leader would whose silo drops it a moment later).
    private void ProposeConfig(SimNode leader, PaxosReplica core, ClusterConfig next, string why)
    {
        if (next.Members.Contains(_nextReplicaId)) AddNode(_nextReplicaId++, DrawView(core));
        FaultsInjected++;
        Trace($"reconfigure {core.Configs.Latest} -> {next} via r{leader.Id}{why}");
        leader.Handle(core.ProposeConfig(next));
    }

    /// <summary>
    /// Adds <paramref name="dropped"/> back (one of <see cref="DroppedMembers"/>) as a silo does after it dropped its
    /// replica: a new, empty replica under the same id. The votes of the dropped replica are gone; its vote floor must
    /// keep it from counting where they were.
    /// </summary>
    internal void AddBack(SimNode leader, long dropped)
    {
        var core = leader.Core!;
        StartOver(dropped, DrawView(core));
        ReAdds++;
        ProposeConfig(leader, core, core.Configs.Latest.With(dropped), $" (r{dropped} added back with an empty replica)");
    }

    /// <summary>
    /// The silo of <paramref name="id"/> drops its replica and starts a new, empty one under the id from
    /// <paramref name="view"/>, which keeps what the dropped one promised and held (<see cref="FormerReplica"/>): its
    /// memory if it is up, else its disk (every vote it sent is there).
    /// </summary>
    internal SimNode StartOver(long id, ConfigHistory view)
    {
        var old = _nodes[id];
        var former = old.Core is { } core ? FormerReplica.Of(core) : FormerReplica.Of(old.Disk.Load());
        old.Crash();
        return AddNode(id, view, former, addedBefore: true);
    }

    /// <summary>The id the next new replica gets (a replacement names it).</summary>
    internal long NextReplicaId => _nextReplicaId;

    /// <summary>A replica that believes it leads, if any (the first found).</summary>
    internal SimNode? Leader => _nodes.Values.FirstOrDefault(n => n.Core is { IsLeader: true });

    internal IReadOnlyDictionary<long, SimNode> Nodes => _nodes;

    /// <summary>
    /// Cuts every link between <paramref name="side"/> and the other replicas, those added later included, until
    /// <see cref="Uncut"/>; a random partition's healing leaves this cut alone.
    /// </summary>
    internal void Cut(IReadOnlyCollection<long> side)
    {
        _cutOff.Clear();
        _cutOff.UnionWith(side);
        Trace($"nemesis cuts {{{string.Join(",", side)}}} off");
    }

    internal void Uncut()
    {
        if (_cutOff.Count == 0) return;
        _cutOff.Clear();
        Trace("nemesis cuts healed");
    }

    /// <summary>Makes <paramref name="node"/> campaign: in campaign mode, the grain directory activated it there.</summary>
    internal void CampaignOn(SimNode node)
    {
        if (node.Core is not { } core) return;
        if (!Faults.ElectionMode) _activation = node.Id;
        Trace($"activate on r{node.Id}");
        node.Handle(core.Campaign());
    }

    internal void NoteFault() => FaultsInjected++;

    /// <summary>
    /// Lets <paramref name="id"/> hear accepts only and send their answers only (null: ends it): a replica that votes
    /// while it learns nothing, as one whose silo is about to drop it on an old decision.
    /// </summary>
    internal void HearOnlyVotes(long? id)
    {
        if (_votesOnly == id) return;
        _votesOnly = id;
        Trace(id is { } r ? $"nemesis: r{r} hears accepts only" : "nemesis: every message heard again");
    }

    /// <summary>
    /// The view a replica added to the group starts from, as the host gives it: the leader's whole history, or (a birth
    /// that adopts an existing replica's configuration) its newest configuration alone.
    /// </summary>
    private ConfigHistory DrawView(PaxosReplica leader) => Random.Next(0, 2) == 0
        ? leader.Configs
        : ConfigHistory.FromEpochs([(leader.Configs.LatestFromSlot, leader.Configs.Latest)]);

    /// <summary>Members added back with an empty replica after their silo dropped the old one.</summary>
    public int ReAdds { get; private set; }

    /// <summary>
    /// A replica the group removed whose silo may drop it, as the host's rule allows (docs/placement.md): no configuration
    /// the leader knows after its removal names it, and a majority of the configuration that removed it holds on disk a
    /// commit index through the slot before that configuration is in force.
    /// </summary>
    internal List<long> DroppedMembers(PaxosReplica leader)
    {
        var epochs = leader.Configs.Epochs;
        var candidates = new List<long>();
        foreach (long id in _nodes.Keys.Order())
        {
            int last = -1;
            for (int i = 0; i < epochs.Count; i++)
            {
                if (epochs[i].Config.Contains(id)) last = i;
            }
            if (last == epochs.Count - 1) continue; // still a member
            // Not named by any epoch the leader still knows (a snapshot trimmed its history): removed before the first.
            var (from, removal) = epochs[last + 1];
            int durable = removal.Members.Count(m => _nodes.TryGetValue(m, out var n) && n.Disk.HardState.CommitIndex >= from - 1);
            if (durable > removal.Members.Count / 2 && leader.CommitIndex >= from) candidates.Add(id);
        }
        return candidates;
    }

    /// <summary>Campaign mode: a second activation of the grain campaigns while the first still runs.</summary>
    private void Duel()
    {
        var candidates = _nodes.Values.Where(n => n.IsUp && n.Id != _activation).ToList();
        if (candidates.Count == 0) return;
        var node = candidates[Random.Next(0, candidates.Count)];
        FaultsInjected++;
        Trace($"duplicate activation on r{node.Id}");
        _activation = node.Id;
        node.Handle(node.Core!.Campaign());
    }

    /// <summary>
    /// Campaign mode: the "grain directory" activates the grain elsewhere when its replica is down or no one leads,
    /// or when a partition cuts the activation off from most replicas (Orleans declares its silo dead while the old
    /// activation still runs and may still serve reads: the case leader leases must survive).
    /// </summary>
    private void MaybeReactivate()
    {
        bool someoneLeads = _nodes.Values.Any(n => n.Core is { Role: not ReplicaRole.Follower });
        bool activationUp = _nodes.TryGetValue(_activation, out var a) && a.IsUp && a.Core!.Role != ReplicaRole.Follower;
        bool cutOff = activationUp && 2 * _nodes.Keys.Count(id => id != _activation
            && (_blocked.Contains((_activation, id)) || _blocked.Contains((id, _activation)))) >= _nodes.Count;
        if (cutOff)
        {
            // Membership notices quickly, and places the new activation on a replica the old one cannot reach.
            if (Random.Chance(0.2)) ActivateSomewhere(awayFrom: _activation);
        }
        else if (!someoneLeads || !activationUp)
        {
            if (Random.Chance(0.05)) ActivateSomewhere();
        }
    }

    private void ActivateSomewhere(long? awayFrom = null)
    {
        var latest = _nodes.Values.Where(n => n.Core is not null).Select(n => n.Core!.Configs.Latest).MaxBy(c => c.Members.Max()) ?? _genesis;
        var candidates = _nodes.Values.Where(n => n.IsUp && latest.Contains(n.Id)
            && (awayFrom is not { } old || _blocked.Contains((old, n.Id)) || _blocked.Contains((n.Id, old)))).ToList();
        if (candidates.Count == 0) return;
        var node = candidates[Random.Next(0, candidates.Count)];
        CampaignOn(node);
    }

    private void HealEverything()
    {
        _faultsOn = false;
        HealPartition();
        Uncut();
        HearOnlyVotes(null);
        foreach (var (id, view) in _unstarted.ToList()) AddMember(id, view);
        foreach (var node in _nodes.Values.Where(n => !n.IsUp)) Restart(node);
        Trace("faults stopped: liveness phase");
        if (!Faults.ElectionMode) Schedule(200, LivenessActivation);
    }

    /// <summary>In the liveness phase the directory keeps one activation alive, as Orleans would.</summary>
    private void LivenessActivation()
    {
        if (!_nodes.Values.Any(n => n.Core is { IsLeader: true })) ActivateSomewhere();
        Schedule(300, LivenessActivation);
    }

    public IEnumerable<Operation<KvInput, KvOutput>> FinalHistory() => _clients.SelectMany(c => c.FinalHistory()).OrderBy(o => o.Call);

    private bool AllClientsIdle() => _clients.All(c => !c.Busy);

    private bool Converged()
    {
        if (Leader?.Core is not { } core) return false;
        var members = core.Configs.At(core.CommitIndex + 1);
        return members.Members.All(id => _nodes.TryGetValue(id, out var n) && n.Core is { } c && c.CommitIndex == core.CommitIndex)
            && !core.HasInFlightWork;
    }
}

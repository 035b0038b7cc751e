using OpenReplica.Checker;
using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>
/// The host of one replica, as the Orleans replica host will be: it persists each Ready before sending its
/// messages, applies committed entries to the key-value state machine, answers clients, and snapshots.
/// A crash drops everything but <see cref="Disk"/>.
/// </summary>
public sealed class SimNode(long id, ReplicaOptions options, Simulation world)
{
    private readonly Dictionary<CommandId, long> _waitingWrites = [];
    private readonly Dictionary<long, (ClientRequest Request, long Endpoint)> _waitingReads = [];
    private long _nextReadId;
    private long _appliedSinceSnapshot;

    public long Id { get; } = id;
    public SimDisk Disk { get; } = new();
    public PaxosReplica? Core { get; private set; }
    public KvStateMachine Machine { get; private set; } = new();
    public bool IsUp => Core is not null;

    /// <summary>Bumped on every crash, so timers of an earlier life are ignored.</summary>
    public int Incarnation { get; private set; }

    /// <summary>This replica's clock rate against simulated time, in thousandths (leases only).</summary>
    public int ClockRatePerMille { get; set; } = 1000;

    /// <summary>This replica's clock reading at simulated time 0 (leases only).</summary>
    public long ClockOrigin { get; set; }

    public long ClockAt(long now) => ClockOrigin + now * ClockRatePerMille / 1000;

    /// <summary>
    /// Starts the replica: <paramref name="fresh"/> with an empty disk (a new member; one added back keeps what its
    /// dropped predecessor under the id left, <paramref name="former"/>), otherwise from its disk after a crash.
    /// </summary>
    public void Boot(bool fresh, FormerReplica former = default)
    {
        long clock = ClockAt(world.Now);
        if (fresh)
        {
            Core = options.InitialConfigs is null ? new PaxosReplica(options) : PaxosReplica.StartOver(options, former);
            Machine = WithPlantedDrift(new KvStateMachine());
        }
        else
        {
            var state = Disk.Load();
            // It may have granted leases it no longer remembers: promise nobody until they have surely ended.
            var restarted = options.Clone();
            if (options.LeaseDuration > 0) restarted.InitialLeaseGuardUntil = clock + options.LeaseDuration;
            Core = PaxosReplica.Restart(restarted, state);
            Machine = WithPlantedDrift(state.Snapshot is { } s ? KvStateMachine.Deserialize(s.AppState) : new KvStateMachine());
        }
        _appliedSinceSnapshot = 0;
        Core.SetClock(clock);
        Handle(Core.Start());
    }

    public void Crash()
    {
        Core = null;
        Machine = new KvStateMachine();
        _waitingWrites.Clear();
        _waitingReads.Clear();
        Incarnation++;
    }

    public void Handle(Ready ready)
    {
        if (Core is null) return;
        // 1. persist, 2. send, 3. apply: the order the core's contract demands.
        Disk.Persist(ready);
        foreach (var m in ready.Messages) world.SendReplicaMessage(m);
        if (ready.SnapshotToInstall is { } snap)
        {
            Machine = WithPlantedDrift(KvStateMachine.Deserialize(snap.AppState));
            world.Checks.OnSnapshotInstalled(Id, snap);
        }
        foreach (var entry in ready.Committed)
        {
            world.Checks.OnCommitted(Id, entry);
            Machine.ApplyEntry(entry, ReplyToWriter);
            _appliedSinceSnapshot++;
            if (entry.Slot % SafetyChecks.DigestEverySlots == 0) world.Checks.OnStateDigest(Id, entry.Slot, Machine.Digest());
        }
        foreach (var rejection in ready.Rejections) AnswerRejection(rejection);
        foreach (var read in ready.Reads) AnswerRead(read.RequestId);
        foreach (long failed in ready.FailedReads)
        {
            if (_waitingReads.Remove(failed, out var w)) world.SendToClient(Id, w.Endpoint, new ClientReply(w.Request.Sequence, null, Core.LeaderHint));
        }
        if (ready.BecameLeader) world.Trace($"r{Id} became leader with ballot {Core.LeaderBallot}");
        if (ready.LostLeadership) world.Trace($"r{Id} lost leadership");
        if (_appliedSinceSnapshot >= world.Faults.SnapshotEverySlots && Core.AppliedIndex == Core.CommitIndex)
        {
            _appliedSinceSnapshot = 0;
            if (world.Tracing) world.Trace($"r{Id} snapshot at {Core.AppliedIndex}");
            Handle(Core.CompactLog(Machine.Serialize()));
        }
    }

    /// <summary>The planted bug: after a restart, this replica's puts carry its incarnation (a replica-local value).</summary>
    private KvStateMachine WithPlantedDrift(KvStateMachine machine)
    {
        if (options.PlantedBugs.HasFlag(PlantedBug.NonDeterministicStateMachine) && Incarnation > 0) machine.Drift = $"~{Incarnation}";
        return machine;
    }

    public void OnClientRequest(ClientRequest request)
    {
        if (Core is null) return;
        if (request.Input.Op == KvOp.Get && !request.ViaLog)
        {
            long readId = ++_nextReadId;
            _waitingReads[readId] = (request, request.ClientEndpoint);
            Handle(Core.ReadIndex(readId));
            return;
        }
        var command = new Command(request.ClientId, request.Sequence, request.FirstUnacknowledged, KvCommand.Encode(request.Input));
        _waitingWrites[command.Id] = request.ClientEndpoint;
        Handle(Core.Propose(command));
    }

    private void ReplyToWriter(CommandId id, KvOutput output)
    {
        if (_waitingWrites.Remove(id, out long endpoint)) world.SendToClient(Id, endpoint, new ClientReply(id.Sequence, output, null));
    }

    private void AnswerRejection(ProposalRejection rejection)
    {
        if (rejection.Command is not { } command || !_waitingWrites.Remove(command.Id, out long endpoint)) return;
        if (rejection.Reason == RejectionReason.AlreadyApplied && Machine.ReplyFor(command.Id) is { } stored)
        {
            world.SendToClient(Id, endpoint, new ClientReply(command.Sequence, stored, null));
        }
        else
        {
            world.SendToClient(Id, endpoint, new ClientReply(command.Sequence, null, rejection.LeaderHint));
        }
    }

    private void AnswerRead(long readId)
    {
        if (!_waitingReads.Remove(readId, out var w)) return;
        world.SendToClient(Id, w.Endpoint, new ClientReply(w.Request.Sequence, new KvOutput(Machine.Read(w.Request.Input.Key)), null));
    }
}

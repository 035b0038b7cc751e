using System.Diagnostics.Metrics;

namespace OpenReplica.Orleans.Diagnostics;

/// <summary>
/// Every OpenReplica instrument, on one <see cref="Meter"/> (<see cref="OpenReplicaTelemetry.MeterName"/>) from the
/// host's <see cref="IMeterFactory"/>, named <c>openreplica-&lt;area&gt;-&lt;thing&gt;</c> like Orleans' own
/// (<c>orleans-&lt;area&gt;-&lt;thing&gt;</c>). Durations are histograms in milliseconds, sizes histograms in their unit,
/// events counters. The engine, the transport, the WAL and the client call the one-line methods below; the names
/// are the contract with dashboards (docs/observability.md lists each with its unit and meaning).
/// </summary>
internal sealed class ReplicationInstruments : Storage.IWalObserver, IDisposable
{
    public const string CallsProposed = "openreplica-calls-proposed";
    public const string CallsChosen = "openreplica-calls-chosen";
    public const string CallsApplied = "openreplica-calls-applied";
    public const string CallsChooseDuration = "openreplica-calls-choose-duration";
    public const string CallsDuration = "openreplica-calls-duration";
    public const string CallsApplyDuration = "openreplica-calls-apply-duration";
    public const string ProposeBatchSize = "openreplica-propose-batch-size";
    public const string Reads = "openreplica-reads";
    public const string LeaderCampaigns = "openreplica-leader-campaigns";
    public const string LeaderChanges = "openreplica-leader-changes";
    public const string ClientRetries = "openreplica-client-retries";
    public const string ClientOutcomeUnknown = "openreplica-client-outcome-unknown";
    public const string ClientGatewaysSilent = "openreplica-client-gateways-silent";
    public const string WalAppends = "openreplica-wal-appends";
    public const string WalBytes = "openreplica-wal-bytes";
    public const string WalFsyncDuration = "openreplica-wal-fsync-duration";
    public const string TransportBatches = "openreplica-transport-batches";
    public const string TransportMessages = "openreplica-transport-messages";
    public const string TransportBytes = "openreplica-transport-bytes";
    public const string TransportDropped = "openreplica-transport-dropped";
    public const string TransportQueueDepth = "openreplica-transport-queue-depth";
    public const string GroupsHeld = "openreplica-groups-held";
    public const string GroupsActive = "openreplica-groups-active";
    public const string GroupsEvicted = "openreplica-groups-evicted";
    public const string GroupLoadsQueued = "openreplica-group-loads-queued";
    public const string ColdMessagesDropped = "openreplica-cold-messages-dropped";
    public const string LogMemoryHeld = "openreplica-log-memory-held";
    public const string WalFailing = "openreplica-wal-failing";
    public const string SnapshotDuration = "openreplica-snapshot-duration";
    public const string SnapshotBytes = "openreplica-snapshot-bytes";
    public const string ReplayDuration = "openreplica-replay-duration";
    public const string ReplayCommands = "openreplica-replay-commands";

    /// <summary>Tag names and values (lower-case, dotted, as OpenTelemetry attributes are).</summary>
    public const string KindTag = "openreplica.call.kind";
    public const string PathTag = "openreplica.read.path";
    public const string ChangeTag = "openreplica.leader.change";
    public const string OutcomeTag = "openreplica.outcome";
    public const string SiloTag = "openreplica.silo";
    public const string GroupKindTag = "openreplica.group.kind";

    private const string Milliseconds = "ms";
    private const string Bytes = "By";

    private readonly Meter _meter;
    private readonly Counter<long> _proposed;
    private readonly Counter<long> _chosen;
    private readonly Counter<long> _applied;
    private readonly Histogram<double> _chooseDuration;
    private readonly Histogram<double> _callDuration;
    private readonly Histogram<double> _applyDuration;
    private readonly Histogram<long> _proposeBatch;
    private readonly Counter<long> _reads;
    private readonly Counter<long> _campaigns;
    private readonly Counter<long> _leaderChanges;
    private readonly Counter<long> _retries;
    private readonly Counter<long> _outcomeUnknown;
    private readonly Counter<long> _gatewaysSilent;
    private readonly Counter<long> _walAppends;
    private readonly Counter<long> _walBytes;
    private readonly Histogram<double> _fsyncDuration;
    private readonly Counter<long> _transportBatches;
    private readonly Counter<long> _transportMessages;
    private readonly Counter<long> _transportBytes;
    private readonly Counter<long> _transportDropped;
    private readonly Histogram<double> _snapshotDuration;
    private readonly Histogram<long> _snapshotBytes;
    private readonly Histogram<double> _replayDuration;
    private readonly Histogram<long> _replayCommands;

    public ReplicationInstruments(IMeterFactory? meterFactory)
    {
        // A host without metrics in DI (a bare ServiceCollection) still works: its meter is simply never listened to.
        _meter = meterFactory?.Create(OpenReplicaTelemetry.MeterName) ?? new Meter(OpenReplicaTelemetry.MeterName);
        _proposed = _meter.CreateCounter<long>(CallsProposed, "{call}", "Replicated calls handed to their group's leader to be chosen.");
        _chosen = _meter.CreateCounter<long>(CallsChosen, "{call}", "Replicated calls chosen into a log slot (seen by the leading activation).");
        _applied = _meter.CreateCounter<long>(CallsApplied, "{call}", "Replicated calls applied to State by the leading activation.");
        _chooseDuration = _meter.CreateHistogram<double>(CallsChooseDuration, Milliseconds, "Time from proposing a call to seeing it chosen (persist + quorum round).");
        _callDuration = _meter.CreateHistogram<double>(CallsDuration, Milliseconds, "Time a replicated grain spends on a call, by kind (write, read).");
        _applyDuration = _meter.CreateHistogram<double>(CallsApplyDuration, Milliseconds, "Time the grain's own method runs when a chosen call is applied (user code on the activation).");
        _proposeBatch = _meter.CreateHistogram<long>(ProposeBatchSize, "{call}", "Proposals a group's engine step hands to its core together (they share slots).");
        _reads = _meter.CreateCounter<long>(Reads, "{read}", "[ReadOnly] calls, by path: lease (answered locally) or read-index (a quorum round).");
        _campaigns = _meter.CreateCounter<long>(LeaderCampaigns, "{campaign}", "Phase-1 campaigns started by replicas on this silo, by group kind (grain, roster).");
        _leaderChanges = _meter.CreateCounter<long>(LeaderChanges, "{change}", "Leaderships gained or lost by replicas on this silo, by change (gained, lost) and group kind (grain, roster).");
        _retries = _meter.CreateCounter<long>(ClientRetries, "{retry}", "Calls retried by the caller with the same stamp.");
        _outcomeUnknown = _meter.CreateCounter<long>(ClientOutcomeUnknown, "{call}", "Calls that failed after their last retry with an error after which they may or may not have run.");
        _gatewaysSilent = _meter.CreateCounter<long>(ClientGatewaysSilent, "{gateway}", "Gateways the client stopped using because a probe went unanswered while calls waited on them.");
        _walAppends = _meter.CreateCounter<long>(WalAppends, "{record}", "Records made durable in the write-ahead log.");
        _walBytes = _meter.CreateCounter<long>(WalBytes, Bytes, "Bytes made durable in the write-ahead log.");
        _fsyncDuration = _meter.CreateHistogram<double>(WalFsyncDuration, Milliseconds, "Time of one WAL batch's write and fsync (group commit).");
        _transportBatches = _meter.CreateCounter<long>(TransportBatches, "{batch}", "Batches of consensus messages sent to peer silos, by outcome (delivered, failed).");
        _transportMessages = _meter.CreateCounter<long>(TransportMessages, "{message}", "Consensus messages queued for peer silos.");
        _transportBytes = _meter.CreateCounter<long>(TransportBytes, Bytes, "Payload bytes of consensus messages queued for peer silos.");
        _transportDropped = _meter.CreateCounter<long>(TransportDropped, "{message}", "Consensus messages dropped (queue full or silo stopping); the protocol retransmits.");
        _snapshotDuration = _meter.CreateHistogram<double>(SnapshotDuration, Milliseconds, "Time to serialize an activation's state for log compaction.");
        _snapshotBytes = _meter.CreateHistogram<long>(SnapshotBytes, Bytes, "Size of a log-compaction snapshot.");
        _replayDuration = _meter.CreateHistogram<double>(ReplayDuration, Milliseconds, "Time a new activation takes to replay snapshot + log into State.");
        _replayCommands = _meter.CreateHistogram<long>(ReplayCommands, "{command}", "Commands a new activation replays from the log.");
    }

    public void Proposed() => _proposed.Add(1);

    /// <summary>A call was chosen; its latency is recorded when this activation proposed it (<paramref name="known"/>).</summary>
    public void Chosen(TimeSpan sinceProposed, bool known)
    {
        _chosen.Add(1);
        if (known) _chooseDuration.Record(sinceProposed.TotalMilliseconds);
    }

    public void Applied(TimeSpan methodTime)
    {
        _applied.Add(1);
        _applyDuration.Record(methodTime.TotalMilliseconds);
    }

    /// <summary>Whether anyone listens to <see cref="CallsDuration"/>: a read served at once is timed only then.</summary>
    public bool CallDurationsRecorded => _callDuration.Enabled;

    public void CallCompleted(bool readOnly, TimeSpan duration) =>
        _callDuration.Record(duration.TotalMilliseconds, new KeyValuePair<string, object?>(KindTag, readOnly ? "read" : "write"));

    public void ProposalBatch(int proposals) => _proposeBatch.Record(proposals);

    public void Read(bool underLease) => _reads.Add(1, new KeyValuePair<string, object?>(PathTag, underLease ? "lease" : "read-index"));

    public void Campaign(string groupKind) => _campaigns.Add(1, new KeyValuePair<string, object?>(GroupKindTag, groupKind));

    public void LeaderChanged(bool gained, string groupKind) =>
        _leaderChanges.Add(1, new KeyValuePair<string, object?>(ChangeTag, gained ? "gained" : "lost"), new KeyValuePair<string, object?>(GroupKindTag, groupKind));

    public void Retried() => _retries.Add(1);

    public void OutcomeUnknown() => _outcomeUnknown.Add(1);

    public void GatewaySilent() => _gatewaysSilent.Add(1);

    public void OnBatchDurable(int records, long bytes, TimeSpan fsyncTime)
    {
        _walAppends.Add(records);
        _walBytes.Add(bytes);
        _fsyncDuration.Record(fsyncTime.TotalMilliseconds);
    }

    public void MessageQueued(int bytes)
    {
        _transportMessages.Add(1);
        _transportBytes.Add(bytes);
    }

    public void MessagesDropped(int messages) => _transportDropped.Add(messages);

    public void BatchSent(bool delivered) => _transportBatches.Add(1, new KeyValuePair<string, object?>(OutcomeTag, delivered ? "delivered" : "failed"));

    public void SnapshotTaken(TimeSpan duration, int bytes)
    {
        _snapshotDuration.Record(duration.TotalMilliseconds);
        _snapshotBytes.Record(bytes);
    }

    public void Replayed(TimeSpan duration, long commands)
    {
        _replayDuration.Record(duration.TotalMilliseconds);
        _replayCommands.Record(commands);
    }

    /// <summary>Reports the transport's queued messages (all destinations) as a gauge, tagged with the silo.</summary>
    public void ObserveTransportQueue(string silo, Func<long> queued) =>
        _meter.CreateObservableGauge(TransportQueueDepth, () => new Measurement<long>(queued(), new KeyValuePair<string, object?>(SiloTag, silo)),
            "{message}", "Consensus messages waiting to be sent to peer silos.");

    /// <summary>Reports the runtime's group counts as gauges, tagged with the silo.</summary>
    public void ObserveGroups(string silo, Func<GroupCounts> counts)
    {
        var tag = new KeyValuePair<string, object?>(SiloTag, silo);
        _meter.CreateObservableGauge(GroupsHeld, () => new Measurement<long>(counts().Held, tag), "{group}", "Groups whose replica on this silo is in memory.");
        _meter.CreateObservableGauge(GroupsActive, () => new Measurement<long>(counts().Active, tag), "{group}", "Groups led by an activation on this silo.");
        _meter.CreateObservableGauge(GroupsEvicted, () => new Measurement<long>(counts().Evicted, tag), "{group}", "Groups with a replica in this silo's log that are not in memory.");
    }

    /// <summary>
    /// Reports the group loads (replicas built from the WAL) waiting for the silo's loader threads, and the messages
    /// dropped while their group's replica was being built (<see cref="Replication.ColdDeliveries"/>).
    /// </summary>
    public void ObserveGroupLoads(string silo, Func<long> queued, Func<long> dropped)
    {
        var tag = new KeyValuePair<string, object?>(SiloTag, silo);
        _meter.CreateObservableGauge(GroupLoadsQueued, () => new Measurement<long>(queued(), tag), "{load}",
            "Group replicas waiting to be built from the write-ahead log on this silo (messages, activations, status asks, rebalancing).");
        _meter.CreateObservableCounter(ColdMessagesDropped, () => new Measurement<long>(dropped(), tag), "{message}",
            "Consensus messages dropped because too many waited for their group's replica to be built; the protocol retransmits.");
    }

    /// <summary>
    /// Reports 1 while the silo's write-ahead log is failing, or failed moments ago (it hosts no activations then:
    /// <see cref="Replication.ReplicationRuntime.StartsActivations"/>), else 0; tagged with the silo. An alert belongs here.
    /// </summary>
    public void ObserveLogHealth(string silo, Func<bool> startsActivations) =>
        _meter.CreateObservableGauge(WalFailing, () => new Measurement<long>(startsActivations() ? 0 : 1, new KeyValuePair<string, object?>(SiloTag, silo)),
            "{silo}", "1 while this silo's write-ahead log is failing or failed moments ago (its grains are served from other replica silos), else 0.");

    /// <summary>Reports the log memory charged to the silo's budget (<see cref="Replication.LogMemoryBudget"/>) as a gauge.</summary>
    public void ObserveLogMemory(string silo, Func<long> held) =>
        _meter.CreateObservableGauge(LogMemoryHeld, () => new Measurement<long>(held(), new KeyValuePair<string, object?>(SiloTag, silo)),
            Bytes, "Estimated bytes the logs of groups led on this silo hold since their last snapshots, on all their replicas.");

    public void Dispose() => _meter.Dispose();
}

/// <summary>The groups one silo holds a replica of: in memory, led by an activation here, on disk only.</summary>
internal readonly record struct GroupCounts(long Held, long Active, long Evicted);

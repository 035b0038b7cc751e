using Microsoft.Extensions.Options;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>Silo options of replicated grains (<c>AddReplicatedGrains</c>).</summary>
public sealed class ReplicatedGrainsOptions
{
    /// <summary>Default for <see cref="ReplicationFactor"/>.</summary>
    public const int DefaultReplicationFactor = 3;
    /// <summary>Default for <see cref="AcceptSpares"/>.</summary>
    public const int DefaultAcceptSpares = 1;
    /// <summary>Default for <see cref="SnapshotEveryCommands"/>.</summary>
    public const int DefaultSnapshotEveryCommands = 4096;
    /// <summary>Default for <see cref="SnapshotOnDeactivationAfterCommands"/>.</summary>
    public const int DefaultSnapshotOnDeactivationAfterCommands = 64;
    /// <summary>Default for <see cref="LogMemoryBudget"/>: 256 MiB.</summary>
    public const long DefaultLogMemoryBudget = 256L * 1024 * 1024;
    /// <summary>Default for <see cref="DigestEveryCommands"/>.</summary>
    public const int DefaultDigestEveryCommands = 1024;
    /// <summary>Default for <see cref="TransportQueueCapacity"/>.</summary>
    public const int DefaultTransportQueueCapacity = 16_384;
    /// <summary>Default for <see cref="TransportMaxBatchMessages"/>.</summary>
    public const int DefaultTransportMaxBatchMessages = 1024;
    /// <summary>Default for <see cref="TransportMaxBatchBytes"/> (8 MiB).</summary>
    public const int DefaultTransportMaxBatchBytes = 8 << 20;
    /// <summary>Default for <see cref="MaxCallBytes"/> (64 MiB).</summary>
    public const int DefaultMaxCallBytes = 64 << 20;
    /// <summary>Default for <see cref="Window"/>.</summary>
    public const int DefaultWindow = 32;
    /// <summary>Default for <see cref="MaxBatchCommands"/>.</summary>
    public const int DefaultMaxBatchCommands = 512;
    /// <summary>Largest allowed <see cref="MaxBatchCommands"/> (a command's index within its slot must fit in 16 bits).</summary>
    public const int MaxMaxBatchCommands = 65_535;
    /// <summary>Default for <see cref="CallTimeout"/>.</summary>
    public static readonly TimeSpan DefaultCallTimeout = TimeSpan.FromSeconds(30);
    /// <summary>Default for <see cref="ReplacementGracePeriod"/>.</summary>
    public static readonly TimeSpan DefaultReplacementGracePeriod = TimeSpan.FromSeconds(60);
    /// <summary>Default for <see cref="RosterSettlingPeriod"/>.</summary>
    public static readonly TimeSpan DefaultRosterSettlingPeriod = TimeSpan.FromSeconds(10);
    /// <summary>Default for <see cref="RebalanceConcurrency"/>.</summary>
    public const int DefaultRebalanceConcurrency = 4;
    /// <summary>Default for <see cref="RebalanceConcurrencyMax"/>.</summary>
    public const int DefaultRebalanceConcurrencyMax = 16;
    /// <summary>Default for <see cref="DecommissionConcurrency"/>.</summary>
    public const int DefaultDecommissionConcurrency = 32;
    /// <summary>Default for <see cref="RebalanceInterval"/>.</summary>
    public static readonly TimeSpan DefaultRebalanceInterval = TimeSpan.FromSeconds(1);
    /// <summary>Default for <see cref="DecommissionTimeout"/>.</summary>
    public static readonly TimeSpan DefaultDecommissionTimeout = TimeSpan.FromSeconds(20);
    /// <summary>Default for <see cref="DecommissionMajorityTimeout"/>.</summary>
    public static readonly TimeSpan DefaultDecommissionMajorityTimeout = TimeSpan.FromSeconds(20);
    /// <summary>Longest allowed <see cref="FaultDomain"/>, in characters.</summary>
    public const int MaxFaultDomainLength = 128;
    /// <summary>Default for <see cref="EngineWorkers"/>: one per processor.</summary>
    public static readonly int DefaultEngineWorkers = Math.Max(1, Environment.ProcessorCount);
    /// <summary>Default for <see cref="EngineMaxGroupsPerStep"/>.</summary>
    public const int DefaultEngineMaxGroupsPerStep = 1024;
    /// <summary>Default for <see cref="MaxQueuedProposals"/>.</summary>
    public const int DefaultMaxQueuedProposals = 4096;
    /// <summary>Default for <see cref="MaxUnappliedCommands"/>.</summary>
    public const int DefaultMaxUnappliedCommands = 16_384;
    /// <summary>Default for <see cref="BirthClaimLifetime"/>.</summary>
    public static readonly TimeSpan DefaultBirthClaimLifetime = TimeSpan.FromSeconds(30);
    /// <summary>Default for <see cref="IdleGroupEvictionAfter"/>.</summary>
    public static readonly TimeSpan DefaultIdleGroupEvictionAfter = TimeSpan.FromSeconds(30);
    /// <summary>Default for <see cref="GatewaySendTimeout"/>.</summary>
    public static readonly TimeSpan DefaultGatewaySendTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Replicas of a grain whose class does not name a count on <see cref="ReplicatedAttribute"/>: 3, 5 or 7.</summary>
    public int ReplicationFactor { get; set; } = DefaultReplicationFactor;

    /// <summary>Directory of the silo's replica identity, log and snapshots; null means memory only.</summary>
    public string? DataDirectory { get; set; }

    /// <summary>
    /// <see cref="ReplicationMode.Persisted"/> needs <see cref="DataDirectory"/>. When not set, the mode follows the
    /// directory: Persisted with one, Volatile without.
    /// </summary>
    public ReplicationMode? Mode { get; set; }

    /// <summary>The mode in effect (see <see cref="Mode"/>).</summary>
    public ReplicationMode EffectiveMode => Mode ?? (DataDirectory is null ? ReplicationMode.Volatile : ReplicationMode.Persisted);

    /// <summary>How long a call may wait for its command to be chosen and applied.</summary>
    public TimeSpan CallTimeout { get; set; } = DefaultCallTimeout;

    /// <summary>A grain's log is snapshotted and truncated every this many commands (bounds replay on failover).</summary>
    public int SnapshotEveryCommands { get; set; } = DefaultSnapshotEveryCommands;

    /// <summary>
    /// Bytes of log a silo's groups may hold between snapshots, in all, before their largest snapshot early (estimated:
    /// each command's payload plus a fixed overhead, times the replication factor, since in a balanced cluster a silo
    /// holds replicas of R groups for each one it leads). Without it, only <see cref="SnapshotEveryCommands"/> bounds
    /// the log, per group: thousands of working grains would each keep thousands of entries. While the total is over
    /// the budget, an activation holding at least the average snapshots at its next call (at most every 32 commands,
    /// and only once its log outweighs its last snapshot).
    /// 0 turns it off.
    /// </summary>
    public long LogMemoryBudget { get; set; } = DefaultLogMemoryBudget;

    /// <summary>
    /// An activation that deactivates (idle collection, a move) snapshots its State first if it applied at least this
    /// many commands since its last snapshot, so the grain's next activation replays nothing instead of up to
    /// <see cref="SnapshotEveryCommands"/> commands (the snapshot is taken where State already is, in memory, and is
    /// shipped to the followers like any snapshot). 0 turns it off: only <see cref="SnapshotEveryCommands"/> snapshots.
    /// </summary>
    public int SnapshotOnDeactivationAfterCommands { get; set; } = DefaultSnapshotOnDeactivationAfterCommands;

    /// <summary>
    /// Divergence detection (docs/determinism.md): every this many commands the leading activation writes a digest of
    /// State into the log, and any later activation that replays past it compares its own; a mismatch stops the grain.
    /// Snapshots always carry a digest. 0 turns the periodic checkpoints off. Each costs one digest of State and one
    /// small log entry.
    /// </summary>
    public int DigestEveryCommands { get; set; } = DefaultDigestEveryCommands;

    /// <summary>Messages queued per destination silo; when full the oldest is dropped (consensus retransmits).</summary>
    public int TransportQueueCapacity { get; set; } = DefaultTransportQueueCapacity;

    /// <summary>Most messages delivered to one silo in one call.</summary>
    public int TransportMaxBatchMessages { get; set; } = DefaultTransportMaxBatchMessages;

    /// <summary>
    /// Most payload bytes delivered to one silo in one call (a larger single message still goes, alone). Orleans refuses
    /// a message body over its <c>MaxMessageBodySize</c> (100 MB by default) and drops the connection with everything
    /// queued on it: keep this well below that.
    /// </summary>
    public int TransportMaxBatchBytes { get; set; } = DefaultTransportMaxBatchBytes;

    /// <summary>
    /// Largest replicated call, as Orleans serializes its method and arguments. A call's arguments travel in the
    /// grain's log and in one consensus message to each replica, which Orleans must carry (<c>MaxMessageBodySize</c>,
    /// 100 MB by default); a larger call fails at once with an <see cref="ArgumentException"/> that names its size,
    /// rather than being retried until its deadline. Pass large data by reference (a blob's key) instead.
    /// </summary>
    public int MaxCallBytes { get; set; } = DefaultMaxCallBytes;

    /// <summary>
    /// How long a roster replica's silo may be gone (declared dead by Orleans, or not seen) before the meta group
    /// replaces it with a live silo outside the roster, if there is one. A silo back within it rejoins as itself.
    /// </summary>
    public TimeSpan ReplacementGracePeriod { get; set; } = DefaultReplacementGracePeriod;

    /// <summary>Log slots a grain may have in flight at once (pipelining): a hot grain is not limited to one round trip per call.</summary>
    public int Window { get; set; } = DefaultWindow;

    /// <summary>Calls batched into one log slot at most, when more are waiting than the window allows.</summary>
    public int MaxBatchCommands { get; set; } = DefaultMaxBatchCommands;

    /// <summary>
    /// Thrifty accepts: how many replicas beyond a bare majority each log slot's accept is sent to (the rest get the
    /// chosen entries pushed a heartbeat later). 1 (the default) sends to every replica at factor 3, and to three of the
    /// four followers at factor 5; 0 sends to a bare majority only (two followers at factor 5, one at factor 3: fewer
    /// messages, appends and fsyncs per write, at the price of a retransmission period, about 100 ms, whenever a chosen
    /// follower is slow). Durability is the same either way: a call is acknowledged only once a majority has it.
    /// </summary>
    public int AcceptSpares { get; set; } = DefaultAcceptSpares;

    /// <summary>
    /// Leader leases for <c>[ReadOnly]</c> methods; <see cref="TimeSpan.Zero"/> (the default) turns them off and every
    /// read confirms leadership with a quorum round (read-index). With a lease, a grain's activation answers reads
    /// locally, without any message, while a quorum of its replicas has promised (for this long, on their own
    /// clocks) to support no other activation. The cost: when a grain's silo dies, the new activation waits up to
    /// this long before it can lead, and a silo restarted with its data directory waits this long before its
    /// replicas support any new activation. Assumes monotonic clocks that advance at nearly the same rate: the lease
    /// ends an eighth of its length before the promises behind it, so no silo's clock may run more than 8/7 as fast as
    /// another's (clocks within 5 % of true time are well inside that).
    /// </summary>
    public TimeSpan LeaseDuration { get; set; } = TimeSpan.Zero;

    /// <summary>Fault-injection seam for tests (a disk that fills up or fails fsyncs); null: the real file system.</summary>
    internal OpenReplica.Storage.IFileSystem? WalFileSystem { get; set; }

    /// <summary>
    /// Fault-injection seam for tests (a clock that runs fast or slow): the monotonic clock (its
    /// <see cref="TimeProvider.GetTimestamp"/>) that leases, lease guards, birth claims and idle periods are measured
    /// with; null: the system's. Never the wall clock, which may step.
    /// </summary>
    internal TimeProvider? MonotonicClock { get; set; }

    /// <summary>
    /// The failure domain of this silo (a rack, a zone: any name, at most <see cref="MaxFaultDomainLength"/>
    /// characters); null means none. A group's replicas go to distinct domains while the roster spans at least as
    /// many domains as the group has replicas; with fewer, each domain holds one replica and the rest go to the
    /// heaviest remaining silos, so losing one domain may then take a majority of some groups (docs/placement.md).
    /// </summary>
    public string? FaultDomain { get; set; }

    /// <summary>
    /// How long a silo must have been active before the meta group adds it to the replica roster (so a silo that
    /// crashes right after start, or a flapping one, does not cause two rebalances).
    /// </summary>
    public TimeSpan RosterSettlingPeriod { get; set; } = DefaultRosterSettlingPeriod;

    /// <summary>
    /// Groups this silo's rebalancer moves at once when the roster changes, at least. Each move is add the new replica,
    /// wait until it has caught up, remove the old one; a small number keeps foreground calls fast. While moves stay
    /// as fast as the fastest recent one (the receiving silo is not saturated) the rebalancer runs more at once, up to
    /// <see cref="RebalanceConcurrencyMax"/>, and backs off to this number when they slow down.
    /// </summary>
    public int RebalanceConcurrency { get; set; } = DefaultRebalanceConcurrency;

    /// <summary>
    /// Most groups this silo's rebalancer moves at once onto a silo that joined, while moves stay fast (see
    /// <see cref="RebalanceConcurrency"/>). At or below <see cref="RebalanceConcurrency"/>: a fixed pace of that many.
    /// </summary>
    public int RebalanceConcurrencyMax { get; set; } = DefaultRebalanceConcurrencyMax;

    /// <summary>
    /// Groups a silo moves at once when the roster lost a member (a silo decommissioned by a graceful stop, or a dead
    /// one replaced): those moves race <see cref="DecommissionTimeout"/> or restore a full replica count, so they run
    /// wider than <see cref="RebalanceConcurrency"/>, which paces the moves onto a silo that joined. A move mostly
    /// waits (a catch-up, two configuration changes), so this costs little CPU.
    /// </summary>
    public int DecommissionConcurrency { get; set; } = DefaultDecommissionConcurrency;

    /// <summary>How often the rebalancer looks for groups whose replica set differs from the roster's choice.</summary>
    public TimeSpan RebalanceInterval { get; set; } = DefaultRebalanceInterval;

    /// <summary>
    /// On a graceful stop, how long the silo spends leaving the roster and handing its replicas and leaderships
    /// over before it stops anyway (what is left is then recovered like a failure). Keep it below the host's
    /// shutdown timeout (<c>HostOptions.ShutdownTimeout</c>, 30 s by default); zero skips the hand-over.
    /// </summary>
    public TimeSpan DecommissionTimeout { get; set; } = DefaultDecommissionTimeout;

    /// <summary>
    /// On a graceful stop, how much longer than <see cref="DecommissionTimeout"/> the silo goes on handing over the
    /// groups that would be left without a majority of live members if it stopped now (their other members are gone or
    /// leaving too, as when silos are replaced one after another faster than their groups move). Those groups are
    /// handed over first; the others keep a majority and are recovered like a failure. The host's own shutdown
    /// deadline still wins (a stop cancelled by the host ends at once); zero stops at <see cref="DecommissionTimeout"/>.
    /// </summary>
    public TimeSpan DecommissionMajorityTimeout { get; set; } = DefaultDecommissionMajorityTimeout;

    /// <summary>
    /// Workers of the silo's replication engine (default: one per core). Every group belongs to one worker, which
    /// steps all its ready groups together: one WAL append and one message batch per peer silo per step.
    /// </summary>
    public int EngineWorkers { get; set; } = DefaultEngineWorkers;

    /// <summary>Groups one engine step takes at most (the rest wait for the next step, so a step's latency stays bounded).</summary>
    public int EngineMaxGroupsPerStep { get; set; } = DefaultEngineMaxGroupsPerStep;

    /// <summary>
    /// Calls of one grain waiting for its group's next engine step at most; beyond it a call fails at once with a
    /// retryable <see cref="ReplicaUnavailableException"/> (clients with <c>UseReplicatedGrains()</c> retry it with
    /// the same stamp after a back-off).
    /// </summary>
    public int MaxQueuedProposals { get; set; } = DefaultMaxQueuedProposals;

    /// <summary>
    /// Commands chosen but not yet applied by a grain's activation at most (slow grain code): beyond it new calls
    /// fail at once with a retryable <see cref="ReplicaUnavailableException"/> until the activation catches up.
    /// Consensus never waits for the activation; this bounds what it queues for it.
    /// </summary>
    public int MaxUnappliedCommands { get; set; } = DefaultMaxUnappliedCommands;

    /// <summary>
    /// A grain's group with no activation, nothing in flight and its commit index told to its followers leaves the
    /// silo's memory after this long without input, on leaders and followers alike; its next message or call rebuilds
    /// it from the WAL and its snapshot. <see cref="TimeSpan.Zero"/> keeps groups in memory. Must exceed
    /// <see cref="LeaseDuration"/> (a replica forgets the lease it granted when it leaves memory).
    /// </summary>
    public TimeSpan IdleGroupEvictionAfter { get; set; } = DefaultIdleGroupEvictionAfter;

    /// <summary>
    /// How long a silo keeps a birth claim it granted: the proposal of a new group's first configuration, recorded by
    /// every silo asked so two concurrent births of one group see each other (docs/architecture.md, "Birth of a
    /// group"). A birth round must end within a third of it; a proposer that crashed mid-birth blocks other births of
    /// that grain's group (they fail with a retryable <see cref="ReplicaSetUnavailableException"/>) at most this long;
    /// and a silo that restarts with its data directory after a crash grants no claim for this long.
    /// </summary>
    public TimeSpan BirthClaimLifetime { get; set; } = DefaultBirthClaimLifetime;

    /// <summary>
    /// When the silo starts, run replication's code once on throwaway in-memory data in the background (a group of
    /// four in-memory silos taken through a campaign, proposals, a read, a snapshot, a rebuild and a move; the
    /// serializers of the replication messages and of every replicated grain's state), so a silo that joins a loaded
    /// cluster does not compile it while its first grains' callers wait. It touches no log, grain or network. Costs a
    /// few hundred ms of CPU once, after the silo is active; false turns it off.
    /// </summary>
    public bool WarmUpAtStart { get; set; } = true;

    /// <summary>
    /// How long what this silo's gateway sent to a client may stay unacknowledged by the client's machine before the silo
    /// closes that connection (TCP_USER_TIMEOUT on Linux; elsewhere not set). A silo sends its answers for a client
    /// through its own connection to that client; when a network drops that connection's traffic without closing it, the
    /// operating system would keep it for about 15 minutes, and the answers of every activation on this silo would be lost
    /// in it while the client retries through other gateways. Closed, the answers go through a gateway the client
    /// reaches. Zero: the operating system's default.
    /// </summary>
    public TimeSpan GatewaySendTimeout { get; set; } = DefaultGatewaySendTimeout;
}

/// <summary>Validates <see cref="ReplicatedGrainsOptions"/> at silo start-up; each message names the option.</summary>
internal sealed class ReplicatedGrainsOptionsValidator(IOptions<ReplicatedGrainsOptions> options) : IConfigurationValidator
{
    public void ValidateConfiguration()
    {
        var o = options.Value;
        const string Prefix = nameof(ReplicatedGrainsOptions) + ".";
        if (!ReplicaCount.IsAllowed(o.ReplicationFactor))
        {
            Fail($"{Prefix}{nameof(o.ReplicationFactor)} is {o.ReplicationFactor}; it must be 3, 5 or 7.");
        }

        if (o.Mode == ReplicationMode.Persisted && string.IsNullOrWhiteSpace(o.DataDirectory))
        {
            Fail($"{Prefix}{nameof(o.Mode)} is {nameof(ReplicationMode.Persisted)} but {Prefix}{nameof(o.DataDirectory)} is not set; set a directory or use {nameof(ReplicationMode.Volatile)}.");
        }

        if (o.DataDirectory is not null)
        {
            CheckWritable(o.DataDirectory);
        }

        if (o.CallTimeout <= TimeSpan.Zero)
        {
            Fail($"{Prefix}{nameof(o.CallTimeout)} is {o.CallTimeout}; it must be positive.");
        }

        if (o.SnapshotOnDeactivationAfterCommands < 0)
        {
            Fail($"{Prefix}{nameof(o.SnapshotOnDeactivationAfterCommands)} is {o.SnapshotOnDeactivationAfterCommands}; it must not be negative (0 turns it off).");
        }

        if (o.SnapshotEveryCommands < 1)
        {
            Fail($"{Prefix}{nameof(o.SnapshotEveryCommands)} is {o.SnapshotEveryCommands}; it must be at least 1.");
        }

        if (o.LogMemoryBudget < 0)
        {
            Fail($"{Prefix}{nameof(o.LogMemoryBudget)} is {o.LogMemoryBudget}; it must not be negative (0 turns the budget off).");
        }

        if (o.DigestEveryCommands < 0)
        {
            Fail($"{Prefix}{nameof(o.DigestEveryCommands)} is {o.DigestEveryCommands}; it must be 0 (only snapshots carry a digest) or positive.");
        }

        if (o.TransportQueueCapacity < 1)
        {
            Fail($"{Prefix}{nameof(o.TransportQueueCapacity)} is {o.TransportQueueCapacity}; it must be at least 1.");
        }

        if (o.ReplacementGracePeriod <= TimeSpan.Zero)
        {
            Fail($"{Prefix}{nameof(o.ReplacementGracePeriod)} is {o.ReplacementGracePeriod}; it must be positive.");
        }

        if (o.Window is < 1 or > 10_000)
        {
            Fail($"{Prefix}{nameof(o.Window)} is {o.Window}; it must be between 1 and 10000.");
        }

        if (o.AcceptSpares < 0)
        {
            Fail($"{Prefix}{nameof(o.AcceptSpares)} is {o.AcceptSpares}; it must be 0 or more.");
        }

        if (o.MaxBatchCommands is < 1 or > ReplicatedGrainsOptions.MaxMaxBatchCommands)
        {
            Fail($"{Prefix}{nameof(o.MaxBatchCommands)} is {o.MaxBatchCommands}; it must be between 1 and {ReplicatedGrainsOptions.MaxMaxBatchCommands}.");
        }

        if (o.LeaseDuration != TimeSpan.Zero && (o.LeaseDuration < TimeSpan.FromMilliseconds(10) || o.LeaseDuration >= o.CallTimeout))
        {
            Fail($"{Prefix}{nameof(o.LeaseDuration)} is {o.LeaseDuration}; it must be zero (no leases) or at least 10 ms and shorter than {Prefix}{nameof(o.CallTimeout)} ({o.CallTimeout}), since a new activation may wait that long to lead.");
        }

        if (o.FaultDomain is { } domain && (string.IsNullOrWhiteSpace(domain) || domain.Length > ReplicatedGrainsOptions.MaxFaultDomainLength))
        {
            Fail($"{Prefix}{nameof(o.FaultDomain)} is '{domain}'; it must be null or a non-blank name of at most {ReplicatedGrainsOptions.MaxFaultDomainLength} characters.");
        }

        if (o.RosterSettlingPeriod < TimeSpan.Zero)
        {
            Fail($"{Prefix}{nameof(o.RosterSettlingPeriod)} is {o.RosterSettlingPeriod}; it must not be negative.");
        }

        if (o.RebalanceConcurrency is < 1 or > 1024)
        {
            Fail($"{Prefix}{nameof(o.RebalanceConcurrency)} is {o.RebalanceConcurrency}; it must be between 1 and 1024.");
        }

        if (o.RebalanceConcurrencyMax is < 1 or > 1024)
        {
            Fail($"{Prefix}{nameof(o.RebalanceConcurrencyMax)} is {o.RebalanceConcurrencyMax}; it must be between 1 and 1024.");
        }

        if (o.DecommissionConcurrency is < 1 or > 1024)
        {
            Fail($"{Prefix}{nameof(o.DecommissionConcurrency)} is {o.DecommissionConcurrency}; it must be between 1 and 1024.");
        }

        if (o.RebalanceInterval <= TimeSpan.Zero)
        {
            Fail($"{Prefix}{nameof(o.RebalanceInterval)} is {o.RebalanceInterval}; it must be positive.");
        }

        if (o.DecommissionTimeout < TimeSpan.Zero)
        {
            Fail($"{Prefix}{nameof(o.DecommissionTimeout)} is {o.DecommissionTimeout}; it must not be negative (zero skips the hand-over).");
        }

        if (o.DecommissionMajorityTimeout < TimeSpan.Zero)
        {
            Fail($"{Prefix}{nameof(o.DecommissionMajorityTimeout)} is {o.DecommissionMajorityTimeout}; it must not be negative (zero stops at {nameof(o.DecommissionTimeout)}).");
        }

        if (o.EngineWorkers is < 1 or > 1024)
        {
            Fail($"{Prefix}{nameof(o.EngineWorkers)} is {o.EngineWorkers}; it must be between 1 and 1024.");
        }

        if (o.EngineMaxGroupsPerStep < 1)
        {
            Fail($"{Prefix}{nameof(o.EngineMaxGroupsPerStep)} is {o.EngineMaxGroupsPerStep}; it must be at least 1.");
        }

        if (o.MaxQueuedProposals < 1)
        {
            Fail($"{Prefix}{nameof(o.MaxQueuedProposals)} is {o.MaxQueuedProposals}; it must be at least 1.");
        }

        if (o.MaxUnappliedCommands < 1)
        {
            Fail($"{Prefix}{nameof(o.MaxUnappliedCommands)} is {o.MaxUnappliedCommands}; it must be at least 1.");
        }

        if (o.GatewaySendTimeout < TimeSpan.Zero || o.GatewaySendTimeout > TimeSpan.FromMilliseconds(int.MaxValue))
        {
            Fail($"{Prefix}{nameof(o.GatewaySendTimeout)} is {o.GatewaySendTimeout}; it must be zero (the operating system's default) or a positive time of at most {TimeSpan.FromMilliseconds(int.MaxValue)}.");
        }

        if (o.IdleGroupEvictionAfter < TimeSpan.Zero || (o.IdleGroupEvictionAfter != TimeSpan.Zero && o.IdleGroupEvictionAfter <= o.LeaseDuration))
        {
            Fail($"{Prefix}{nameof(o.IdleGroupEvictionAfter)} is {o.IdleGroupEvictionAfter}; it must be zero (groups stay in memory) or longer than {Prefix}{nameof(o.LeaseDuration)} ({o.LeaseDuration}).");
        }

        if (o.BirthClaimLifetime < TimeSpan.FromMilliseconds(300))
        {
            Fail($"{Prefix}{nameof(o.BirthClaimLifetime)} is {o.BirthClaimLifetime}; it must be at least 300 ms (a birth round must end within a third of it).");
        }

        if (o.TransportMaxBatchMessages < 1)
        {
            Fail($"{Prefix}{nameof(o.TransportMaxBatchMessages)} is {o.TransportMaxBatchMessages}; it must be at least 1.");
        }

        if (o.TransportMaxBatchBytes < 1024)
        {
            Fail($"{Prefix}{nameof(o.TransportMaxBatchBytes)} is {o.TransportMaxBatchBytes}; it must be at least 1024.");
        }

        if (o.MaxCallBytes < 1024)
        {
            Fail($"{Prefix}{nameof(o.MaxCallBytes)} is {o.MaxCallBytes}; it must be at least 1024.");
        }
    }

    private static void CheckWritable(string directory)
    {
        var probe = Path.Combine(directory, $".write-probe-{Guid.NewGuid():N}");
        try
        {
            Directory.CreateDirectory(directory);
            File.WriteAllBytes(probe, []);
            File.Delete(probe);
        }
        catch (Exception exception) when (exception is IOException or UnauthorizedAccessException or NotSupportedException or ArgumentException)
        {
            throw new OrleansConfigurationException(
                $"{nameof(ReplicatedGrainsOptions)}.{nameof(ReplicatedGrainsOptions.DataDirectory)} '{directory}' is not writable: {exception.Message}",
                exception);
        }
    }

    private static void Fail(string message) => throw new OrleansConfigurationException(message);
}

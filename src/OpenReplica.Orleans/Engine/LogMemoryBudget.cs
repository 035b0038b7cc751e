using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Bounds the memory a silo's groups keep in their logs between snapshots
/// (<see cref="ReplicatedGrainsOptions.LogMemoryBudget"/>). Every chosen entry stays in its group's log, on every
/// replica, until the group snapshots; <see cref="ReplicatedGrainsOptions.SnapshotEveryCommands"/> bounds that per
/// group, but a silo whose thousands of grains all work would hold thousands of such logs (a gigabyte and more: the
/// load tool's spread writes left ≈ 290,000 entries per silo after 45 s). Each leading activation charges here what
/// its applied commands hold on all its group's replicas since its last snapshot; while the silo's total is over the
/// budget, an activation holding at least the average of the holders snapshots at its next apply (so the largest go
/// first and at least one always qualifies) unless its snapshot would outweigh its log, which truncates the log on
/// the leader and, shipped, on the followers.
/// In a balanced cluster each silo leads about 1/N of the groups and holds replicas of about R/N of them, so the
/// charge (R copies per command) approximates the silo's own total. Only an estimate: what a command costs is its
/// payload plus <see cref="CommandOverheadBytes"/> per replica, not a measurement of the heap.
/// </summary>
internal sealed class LogMemoryBudget(long budgetBytes)
{
    /// <summary>
    /// Heap one command takes in a replica's log beyond its payload: the command record, its payload array's header,
    /// the log value, the entry and its command list (≈ 230 B by object sizes on x64), rounded up.
    /// </summary>
    public const int CommandOverheadBytes = 256;

    /// <summary>
    /// Fewest commands a group applies between two snapshots the budget asks for: when the budget is too small for the
    /// working set, grains snapshot every this many commands rather than on every call.
    /// </summary>
    public const int MinCommandsBetweenSnapshots = 32;

    /// <summary>Least time between two sweeps (<see cref="Sweep"/>), in milliseconds of the monotonic clock.</summary>
    public const long SweepIntervalMs = 1000;

    private long _held;
    private long _holders;
    private long _lastSweep = long.MinValue / 2;

    /// <summary>
    /// Asks the silo's activations that hold at least the average to snapshot (the call replicator's): run on the
    /// thread pool, at most once per <see cref="SweepIntervalMs"/>, when a charge finds the silo over budget. It
    /// reaches the grains that are no longer called, which the check at each apply does not. Null: none (the simulator).
    /// </summary>
    public Action? Sweep { get; set; }

    /// <summary>What the grains holding log since their last snapshot hold on average: the larger ones compact first.</summary>
    public long AverageHeld => HeldBytes / Math.Max(1, Interlocked.Read(ref _holders));

    /// <summary>The budget in bytes; 0 means none (only <see cref="ReplicatedGrainsOptions.SnapshotEveryCommands"/>).</summary>
    public long BudgetBytes => budgetBytes;

    /// <summary>Bytes charged by every leading activation of the silo, for the commands since their last snapshots.</summary>
    public long HeldBytes => Interlocked.Read(ref _held);

    /// <summary>What one applied command holds on all <paramref name="replicas"/> replicas of its group.</summary>
    public static long SizeOf(Command command, int replicas) => (long)replicas * (command.Payload.Length + CommandOverheadBytes);

    /// <summary>A group that held <paramref name="groupBefore"/> bytes applied commands worth <paramref name="bytes"/> more.</summary>
    public void Charge(long groupBefore, long bytes)
    {
        if (bytes <= 0) return;
        if (groupBefore == 0) Interlocked.Increment(ref _holders);
        long held = Interlocked.Add(ref _held, bytes);
        if (budgetBytes > 0 && held > budgetBytes && Sweep is { } sweep) MaybeSweep(sweep);
    }

    private void MaybeSweep(Action sweep)
    {
        long now = Environment.TickCount64;
        long last = Interlocked.Read(ref _lastSweep);
        if (now - last < SweepIntervalMs || Interlocked.CompareExchange(ref _lastSweep, now, last) != last) return;
        ThreadPool.UnsafeQueueUserWorkItem(static s => ((Action)s!)(), sweep);
    }

    /// <summary>A group snapshotted or its activation stopped: what it held is no longer charged here.</summary>
    public void Release(long groupHeld)
    {
        if (groupHeld <= 0) return;
        Interlocked.Decrement(ref _holders);
        Interlocked.Add(ref _held, -groupHeld);
    }

    /// <summary>
    /// Whether a group holding <paramref name="groupHeld"/> bytes over <paramref name="commands"/> commands should
    /// snapshot now. <paramref name="snapshotHeld"/> is what its last snapshot takes on all its replicas: a group
    /// whose log is still smaller than that would pay more for the snapshot (serialized, shipped, written R times)
    /// than it frees, so it waits (a grain with a large State and small calls snapshots rarely).
    /// </summary>
    public bool ShouldCompact(long groupHeld, long commands, long snapshotHeld = 0)
    {
        if (budgetBytes <= 0 || commands < MinCommandsBetweenSnapshots || groupHeld < snapshotHeld) return false;
        return HeldBytes > budgetBytes && groupHeld >= AverageHeld;
    }
}

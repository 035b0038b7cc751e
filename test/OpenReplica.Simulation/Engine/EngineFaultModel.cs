using OpenReplica.Consensus;

namespace OpenReplica.Simulation.Engine;

/// <summary>
/// The shape and the faults of one engine seed, drawn from the seed (every seed explores a different mix). Faults
/// injected, all of which the engine claims to survive:
/// - batches between silos dropped, duplicated, delayed and so reordered;
/// - partitions among silos, symmetric or one-way, that heal;
/// - silo crashes that lose memory and every unsynced write (torn tails included; see <see cref="SimFileSystem"/>),
///   and restarts from the disk; some are aimed at the moment a silo has just sent a batch (within its fsync time),
///   where a vote sent before its fsync would be lost;
/// - fsyncs that stall (a slow disk: a step's append takes far longer than the idle-eviction period);
/// - duplicate activations (a second activation of a grain campaigns while the first still runs), and activations
///   moved when calls time out (Orleans declaring a silo dead that still runs);
/// - activations deactivated when idle, and idle groups evicted and rebuilt from the WAL (not faults, but the paths
///   the engine must get right under the faults above).
/// - on some seeds, reconfiguration (<see cref="MovedGroups"/>): groups move one member at a time through their own
///   log, onto spare silos and back onto silos that dropped their replica (a re-added member starts a new replica
///   at the first message that names it and replays the whole log), and once a silo that led such a re-add stops for
///   good while the new member is still replaying (a graceful stop that ran out of its deadline); on half of those
///   seeds (<see cref="LateDrops"/>) a member's drop, once decided, waits until the group has added the member back
///   (a drop decided from a view seconds old: the old replica may vote in the configuration that added it back first).
/// Not injected: disk corruption, failed fsyncs.
/// </summary>
public sealed record EngineFaultModel(
    int Silos,
    int Replicas,
    int Groups,
    int KeysPerGroup,
    int Clients,
    int Workers,
    int MaxGroupsPerStep,
    int Window,
    int MaxBatchCommands,
    int SnapshotEveryCommands,
    int DigestEveryCommands,
    long SegmentBytes,
    double DropRate,
    double DuplicateRate,
    int MaxDelay,
    double LongDelayRate,
    double PartitionRate,
    double CrashRate,
    double CrashAfterSendRate,
    double DuelRate,
    double MoveOnTimeoutRate,
    int FsyncMax,
    double FsyncStallRate,
    long EvictAfter,
    long ActivationIdle,
    long LeaseMs,
    double MidStepArrivalRate,
    int MovedGroups = 0,
    int SpareSilos = 0,
    int MovesPerGroup = 0,
    int CatchUpEntries = 0,
    bool RareSnapshots = false,
    double DecommissionRate = 0,
    int AcceptSpares = 1,
    bool LateDrops = false)
{
    public static EngineFaultModel FromSeed(ulong seed)
    {
        var r = new DeterministicRandom(seed * 0x9E3779B97F4A7C15UL + 101);
        int silos = r.Next(3, 6);
        long evictAfter;
        var drawn = new EngineFaultModel(
            Silos: silos,
            Replicas: silos == 5 && r.Chance(0.3) ? 5 : 3,
            Groups: r.Next(4, 41),
            KeysPerGroup: r.Next(1, 3),
            Clients: r.Next(4, 11),
            Workers: r.Next(1, 3),
            MaxGroupsPerStep: r.Chance(0.3) ? r.Next(1, 4) : r.Next(4, 256),
            Window: r.Chance(0.3) ? r.Next(1, 4) : r.Next(4, 33),
            MaxBatchCommands: r.Chance(0.3) ? 1 : r.Next(2, 64),
            SnapshotEveryCommands: r.Chance(0.2) ? 1_000_000 : r.Next(3, 40),
            DigestEveryCommands: r.Next(2, 16),
            SegmentBytes: r.Chance(0.5) ? 4 * 1024 : r.Next(8, 64) * 1024,
            DropRate: r.Chance(0.2) ? 0 : r.NextDouble() * 0.15,
            DuplicateRate: r.Chance(0.4) ? 0 : r.NextDouble() * 0.05,
            MaxDelay: r.Next(1, 15),
            LongDelayRate: r.NextDouble() * 0.05,
            PartitionRate: r.Chance(0.3) ? 0 : r.NextDouble() * 0.004,
            CrashRate: r.Chance(0.2) ? 0 : r.NextDouble() * 0.004,
            CrashAfterSendRate: r.Chance(0.3) ? 0 : r.NextDouble() * 0.002,
            DuelRate: r.Chance(0.4) ? 0 : r.NextDouble() * 0.003,
            MoveOnTimeoutRate: r.NextDouble() * 0.5,
            FsyncMax: r.Chance(0.3) ? r.Next(10, 40) : r.Next(1, 10),
            FsyncStallRate: r.Chance(0.4) ? 0 : r.NextDouble() * 0.01,
            EvictAfter: evictAfter = r.Next(60, 600),
            ActivationIdle: r.Next(100, 1500),
            // Drawn last, so the parameters above stay what each seed had before leases were simulated. A lease is
            // shorter than the idle period after which a group leaves memory (the options validator's rule).
            LeaseMs: r.Chance(0.5) ? 0 : LeaseFor(r, evictAfter),
            // After the lease, for the same reason: batches that land while a worker gathers its step (session 9).
            MidStepArrivalRate: r.Chance(0.2) ? 0 : r.NextDouble() * 0.5);
        // Drawn after everything else, so every other parameter of a seed is what it was before reconfiguration was
        // simulated (session 10): on about 4 seeds in 10, some groups move between silos while the seed runs.
        drawn = drawn with { AcceptSpares = FaultModel.DrawAcceptSpares(seed) };
        int moved = r.Chance(0.6) ? 0 : r.Next(2, 6);
        if (moved == 0) return drawn;
        return drawn with
        {
            MovedGroups = moved,
            // Silos outside every group's first configuration, so a group can leave all of its first members.
            // Enough silos for a group of three to leave all of its first members and come back onto one of them.
            SpareSilos = Math.Max(r.Next(1, 3), 7 - drawn.Silos),
            MovesPerGroup = r.Next(5, 10),
            // A catch-up answer carries 256 entries on a silo; the simulated logs are a few hundred slots long, so
            // answers are scaled down with them (as segments are) and a re-added member replays over many answers.
            CatchUpEntries = r.Next(4, 33),
            // The re-add hazard needs a replay from slot 1 (a snapshot replaces the replayed configurations).
            RareSnapshots = r.Chance(0.75),
            DecommissionRate = 0.7 + r.NextDouble() * 0.3,
            // From a generator of its own, so every other parameter of a seed is what it was before (session 35).
            LateDrops = new DeterministicRandom(seed ^ 0x1A7E_D809_5EEDUL).Chance(0.5),
        };
    }

    /// <summary>
    /// Mostly short leases (a few ticks: renewals go out at once); where the idle period allows, often one of 250 ms or
    /// more, long enough that a renewal a read asks for is held for the next round of renewals (<c>LeaseRenewals</c>).
    /// </summary>
    private static long LeaseFor(DeterministicRandom r, long evictAfter) =>
        evictAfter > 300 && r.Chance(0.6) ? r.Next(250, (int)Math.Min(evictAfter, 500)) : r.Next(10, 55);

    public override string ToString() =>
        $"silos={Silos} replicas={Replicas} groups={Groups} keys/group={KeysPerGroup} clients={Clients} workers={Workers} " +
        $"groups/step<={MaxGroupsPerStep} window={Window} batch={MaxBatchCommands} snapshotEvery={SnapshotEveryCommands} " +
        $"digestEvery={DigestEveryCommands} segment={SegmentBytes / 1024}K drop={DropRate:F3} dup={DuplicateRate:F3} delay<={MaxDelay} " +
        $"partition={PartitionRate:F4} crash={CrashRate:F4} crashAfterSend={CrashAfterSendRate:F4} duel={DuelRate:F4} move={MoveOnTimeoutRate:F2} fsync<={FsyncMax} " +
        $"stall={FsyncStallRate:F3} evictAfter={EvictAfter} activationIdle={ActivationIdle} lease={LeaseMs} midStep={MidStepArrivalRate:F2}" +
        (MovedGroups == 0 ? "" : $" moved={MovedGroups} spares={SpareSilos} moves/group={MovesPerGroup} catchUp={CatchUpEntries} " +
            $"rareSnapshots={RareSnapshots} decommission={DecommissionRate:F2}" + (LateDrops ? " lateDrops" : "")) +
        (AcceptSpares == int.MaxValue ? "" : $" acceptSpares={AcceptSpares}");
}

using OpenReplica.Orleans;

namespace OpenReplica.LoadTest.ScaleOut;

/// <summary>Phase 1: grains written once on six silos, replicas and activations counted per silo.</summary>
/// <param name="GroupsOnTheirSet">Groups whose configuration is the replica set the placement function gives in the roster.</param>
internal sealed record SpreadResult(int Grains, int WriteFailures, TimeSpan WriteTook, WaitResult Settled, int GroupsSeen, int GroupsOnTheirSet,
    Balance Replicas, Balance Activations);

/// <summary>Phase 2: a seventh silo joins while writers run.</summary>
/// <param name="Moved">Groups whose configuration differs before and after (among <paramref name="Compared"/> seen in both).</param>
/// <param name="IdealByPlacement">Groups whose replica set the placement function changes between the two rosters.</param>
/// <param name="MovesCompleted">Moves the silos' rebalancers counted during the phase (status, summed over silos).</param>
internal sealed record JoinResult(int Grains, WaitResult Joined, WaitResult Rebalanced, int Compared, int Moved, int IdealByPlacement,
    double SimpleIdeal, int OnNewcomer, long MovesCompleted, WriterStats Writers);

/// <summary>One original silo replaced: a new one started and taken into the roster, then the old one stopped gracefully.</summary>
internal sealed record RollStep(int Old, WaitResult Joined, string Stop, TimeSpan StopTook, WaitResult Left, TimeSpan Took);

/// <summary>Phase 3: every original silo replaced one by one under load, then every grain read back.</summary>
internal sealed record RollingResult(ReplicationMode Mode, int Grains, int WriteFailures, IReadOnlyList<RollStep> Steps, TimeSpan Took,
    WriterStats? Writers, ExactlyOnceResult? Check);

namespace OpenReplica.LoadTest;

/// <summary>
/// The silos' replica transport counters, summed: consensus messages queued, batches sent (one-way calls, each
/// carrying every group's messages for one peer silo), and messages dropped (full queue).
/// </summary>
internal readonly record struct ConsensusTraffic(long Messages, long Batches, long Dropped)
{
    public static readonly ConsensusTraffic None = default;

    public static ConsensusTraffic operator +(ConsensusTraffic a, ConsensusTraffic b) =>
        new(a.Messages + b.Messages, a.Batches + b.Batches, a.Dropped + b.Dropped);
}

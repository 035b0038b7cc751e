namespace OpenReplica.Orleans;

/// <summary>
/// A detected divergence: at <see cref="Position"/> (a command's place in the log: slot × 65536 + index in the
/// batch) the grain's state digest was <see cref="ExpectedDigest"/> when recorded and is <see cref="ActualDigest"/>
/// as this activation rebuilt it.
/// </summary>
[GenerateSerializer, Immutable]
public sealed record DivergenceReport(
    [property: Id(0)] string Grain,
    [property: Id(1)] long Slot,
    [property: Id(2)] long Position,
    [property: Id(3)] ulong ExpectedDigest,
    [property: Id(4)] ulong ActualDigest,
    [property: Id(5)] DivergenceSource Source);

/// <summary>Where the recorded digest came from.</summary>
public enum DivergenceSource
{
    /// <summary>A checkpoint the activation that ran the calls wrote into the log.</summary>
    Checkpoint = 0,

    /// <summary>The snapshot the state was loaded from (its state does not read back as it was saved).</summary>
    Snapshot = 1,
}

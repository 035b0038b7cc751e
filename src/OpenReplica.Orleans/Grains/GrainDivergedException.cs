namespace OpenReplica.Orleans;

/// <summary>
/// The grain's state as rebuilt from its log differs from the state an earlier activation (or a snapshot) recorded
/// at the same point: some method is not deterministic (see docs/determinism.md). The grain refuses every call
/// rather than serve a diverged state, until an operator decides (<see cref="IReplicatedGrainDivergence"/>).
/// Not retried by clients: retrying cannot help.
/// </summary>
[GenerateSerializer]
public sealed class GrainDivergedException : Exception
{
    /// <summary>A divergence error with the default message.</summary>
    public GrainDivergedException() { }

    /// <summary>A divergence error with <paramref name="message"/>.</summary>
    public GrainDivergedException(string message) : base(message) { }

    /// <summary>A divergence error with <paramref name="message"/> and the error that caused it.</summary>
    public GrainDivergedException(string message, Exception inner) : base(message, inner) { }

    internal GrainDivergedException(DivergenceReport report)
        : base($"grain {report.Grain} diverged: at log position {report.Position} (slot {report.Slot}) its state digest is " +
            $"{report.ActualDigest:x16} on replay but {report.ExpectedDigest:x16} was recorded ({report.Source}). A replicated method is " +
            "not deterministic (see docs/determinism.md); the grain refuses calls until an operator accepts or repairs it " +
            "(IReplicatedGrainDivergence).") => Report = report;

    /// <summary>What was detected (null when the exception was built from a message only).</summary>
    [Id(0)]
    public DivergenceReport? Report { get; private set; }
}

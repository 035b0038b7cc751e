namespace OpenReplica.Orleans;

/// <summary>
/// The operator's handle on a replicated grain that detected a divergence (docs/determinism.md#when-a-grain-diverges).
/// Every replicated grain implements it; reach it with <c>grain.AsReference&lt;IReplicatedGrainDivergence&gt;()</c>.
/// Its calls run outside the log and are served even while the grain refuses ordinary calls.
/// </summary>
public interface IReplicatedGrainDivergence : IGrainExtension
{
    /// <summary>The divergence this activation detected and has not been accepted, or null when it serves normally.</summary>
    Task<DivergenceReport?> GetDivergence();

    /// <summary>
    /// The operator's decision: the state as the log replays with the code now deployed is the truth from here on.
    /// Writes the decision into the grain's log (so every later activation replays past the same mismatch), then
    /// serves again. Fix the non-deterministic method first, or the next checkpoint diverges again.
    /// </summary>
    Task AcceptReplayedState(string reason);
}

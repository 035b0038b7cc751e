namespace OpenReplica.Orleans;

/// <summary>
/// Asks a replicated grain what became of a call whose caller got <see cref="CallOutcomeUnknownException"/>. Every
/// replicated grain implements it; the easy way in is <see cref="CallOutcomeResolution.ResolveAsync"/>.
/// </summary>
public interface IReplicatedCallOutcome : IGrainExtension
{
    /// <summary>
    /// Answers whether the call with <paramref name="stamp"/> was applied. When the grain has no reply for it, it writes
    /// a fence with the same stamp into its log: if the call was not chosen before the fence, it never will be (the
    /// fence takes its place, and the call would be a duplicate), so the answer is definitive either way. Retrying this
    /// method is safe and gives the same answer.
    /// </summary>
    Task<CallResolution> ResolveCall(CallStamp stamp);
}

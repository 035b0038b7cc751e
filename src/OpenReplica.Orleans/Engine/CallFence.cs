using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// A fence: a command with an abandoned call's own stamp and no method, proposed to resolve that call's outcome
/// (<see cref="IReplicatedCallOutcome"/>). The session table lets one command per stamp be applied: if the fence is
/// applied, the call never will be (and its stamp's reply becomes <see cref="CallNotAppliedException"/>); if the fence
/// is a duplicate, the call was applied first (or the stamp is forgotten).
/// </summary>
internal static class CallFence
{
    // Shorter than any encoded call (CommandPayload holds an 8-byte timestamp and the invokable), so never mistaken for one.
    private static readonly byte[] Marker = [0xFE, 0x01];

    public static Command For(CallStamp stamp) =>
        new(stamp.ClientId, stamp.Sequence, Math.Min(stamp.FirstUnacknowledged, stamp.Sequence), Marker);

    public static bool IsFence(Command command) => command.Payload.AsSpan().SequenceEqual(Marker);

    /// <summary>The reply a fenced stamp keeps.</summary>
    public static CommandOutcome Outcome(Command fence) =>
        new(null, new CallNotAppliedException(new CallStamp(fence.ClientId, fence.Sequence, fence.FirstUnacknowledged)));
}

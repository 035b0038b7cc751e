using System.Diagnostics;
using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Diagnostics;

/// <summary>
/// Follows the calls one activation proposes from proposal to apply, for the choose-latency histogram and the spans
/// <c>openreplica.propose</c> → <c>openreplica.choose</c> → <c>openreplica.apply</c>, children of the activity the
/// call arrived with (Orleans' incoming call activity when activity propagation is on). Chosen and apply happen on
/// the activation's pump, not on the call's flow, so the call's activity context is kept here until the call is
/// applied or fails. Bounded by the calls in flight: every proposal ends in <see cref="Applied"/> or <see cref="Forget"/>.
/// </summary>
internal sealed class CallTracing(ReplicationInstruments instruments, string grain)
{
    public const string ProposeSpan = "openreplica.propose";
    public const string ChooseSpan = "openreplica.choose";
    public const string ApplySpan = "openreplica.apply";
    public const string GrainTag = "openreplica.grain";
    public const string SlotTag = "openreplica.slot";

    private static readonly ActivitySource Source = new(OpenReplicaTelemetry.ActivitySourceName);

    private readonly Dictionary<CommandId, Pending> _pending = [];

    /// <summary>Starts the propose span (on the call's flow); dispose it once the proposal is queued.</summary>
    public Activity? StartPropose(CommandId id)
    {
        instruments.Proposed();
        var parent = Activity.Current?.Context ?? default;
        // Tags and the wall-clock start only when someone listens to the spans (every write passes here).
        bool traced = Source.HasListeners();
        var span = traced ? Source.StartActivity(ProposeSpan, ActivityKind.Internal, parent, [new(GrainTag, grain)]) : null;
        lock (_pending) _pending[id] = new Pending(Stopwatch.GetTimestamp(), traced ? DateTimeOffset.UtcNow : default, parent);
        return span;
    }

    /// <summary>The command was seen chosen at <paramref name="slot"/>: records the latency and the choose span.</summary>
    public void Chosen(CommandId id, long slot)
    {
        Pending pending;
        lock (_pending)
        {
            if (!_pending.TryGetValue(id, out pending))
            {
                instruments.Chosen(TimeSpan.Zero, known: false); // proposed by an earlier activation or another silo
                return;
            }
        }
        instruments.Chosen(Stopwatch.GetElapsedTime(pending.ProposedAt), known: true);
        if (pending.ProposedAtUtc == default || !Source.HasListeners()) return; // proposed before anyone listened
        using var span = Source.StartActivity(ChooseSpan, ActivityKind.Internal, pending.Parent,
            [new(GrainTag, grain), new(SlotTag, slot)], startTime: pending.ProposedAtUtc);
    }

    /// <summary>Starts the apply span of a chosen command (on the activation's pump); dispose it when applied.</summary>
    public Activity? StartApply(CommandId id, long slot)
    {
        if (!Source.HasListeners()) return null;
        ActivityContext parent;
        lock (_pending) parent = _pending.TryGetValue(id, out var pending) ? pending.Parent : default;
        return Source.StartActivity(ApplySpan, ActivityKind.Internal, parent, [new(GrainTag, grain), new(SlotTag, slot)]);
    }

    /// <summary>The command was applied; <paramref name="methodTime"/> is how long the grain's method ran.</summary>
    public void Applied(CommandId id, TimeSpan methodTime)
    {
        instruments.Applied(methodTime);
        Forget(id);
    }

    /// <summary>The call ended without being applied here (failed, timed out, answered from the reply table).</summary>
    public void Forget(CommandId id)
    {
        lock (_pending) _pending.Remove(id);
    }

    public void ForgetAll()
    {
        lock (_pending) _pending.Clear();
    }

    private readonly record struct Pending(long ProposedAt, DateTimeOffset ProposedAtUtc, ActivityContext Parent);
}

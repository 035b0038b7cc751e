using OpenReplica.Orleans;
using Orleans.Concurrency;

namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// A replicated counter that also tells its log position: the reactivation measure writes a given number of calls
/// and reports how many log slots they took (batching packs several calls into one slot).
/// </summary>
public interface IReplayProbeGrain : IGrainWithStringKey
{
    Task<long> Increment();

    /// <summary>The counter and the log slot of the last command applied (read-only: no log write).</summary>
    [ReadOnly]
    Task<LogPosition> Read();
}

[GenerateSerializer]
public readonly record struct LogPosition([property: Id(0)] long Value, [property: Id(1)] long Slot);

public sealed class ReplayProbeGrain : ReplicatedGrain<CounterState>, IReplayProbeGrain
{
    public Task<long> Increment() => Task.FromResult(++State.Value);

    /// <summary>
    /// <c>Replicated.Slot</c> numbers commands, not slots: slot × 65,536 + the command's index in its batch
    /// (<c>CommandPayload.Position</c> in the library), so the slot is the quotient.
    /// </summary>
    public Task<LogPosition> Read() => Task.FromResult(new LogPosition(State.Value, Replicated.Slot / 65_536));
}

using Orleans.Runtime;

namespace OpenReplica.LoadTest.External;

/// <summary>
/// The counter as an Orleans user writes it with IPersistentState: the state lives in memory and every increment is
/// written to the storage provider before the call returns. Subclasses only pick the provider.
/// </summary>
public abstract class PersistentCounterGrain(IPersistentState<CounterState> counter, ILocalSiloDetails silo) : Grain, ICounterGrain
{
    public async Task<long> Increment()
    {
        counter.State.Value++;
        try
        {
            await counter.WriteStateAsync();
        }
        catch
        {
            // An unwritten increment must not be seen by Get() or carried into the next write.
            counter.State.Value--;
            throw;
        }
        return counter.State.Value;
    }

    /// <summary>The in-memory state, no storage read: what an Orleans user's read costs.</summary>
    public Task<long> Get() => Task.FromResult(counter.State.Value);

    public Task<string> Host() => Task.FromResult(silo.SiloAddress.ToString());
}

using Orleans.Runtime;

namespace OpenReplica.LoadTest.External;

/// <summary>The persistent counter on Redis (<see cref="PersistenceSetup.RedisProvider"/>).</summary>
public sealed class RedisCounterGrain(
    [PersistentState("counter", PersistenceSetup.RedisProvider)] IPersistentState<CounterState> counter, ILocalSiloDetails silo)
    : PersistentCounterGrain(counter, silo);

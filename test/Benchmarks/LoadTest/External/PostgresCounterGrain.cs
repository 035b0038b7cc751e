using Orleans.Runtime;

namespace OpenReplica.LoadTest.External;

/// <summary>The persistent counter on PostgreSQL (<see cref="PersistenceSetup.PostgresProvider"/>).</summary>
public sealed class PostgresCounterGrain(
    [PersistentState("counter", PersistenceSetup.PostgresProvider)] IPersistentState<CounterState> counter, ILocalSiloDetails silo)
    : PersistentCounterGrain(counter, silo);

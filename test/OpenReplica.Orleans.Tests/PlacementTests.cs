using System.Collections.Immutable;
using System.Net;
using Microsoft.Extensions.Options;
using Orleans.Metadata;
using Orleans.Runtime;
using Orleans.Runtime.Placement;

namespace OpenReplica.Orleans.Tests;

public sealed class PlacementTests
{
    private static readonly SiloAddress S1 = Silo(1), S2 = Silo(2), S3 = Silo(3), S4 = Silo(4);
    private static readonly GrainId Grain = GrainId.Create("account", "alice");

    [Fact]
    public void Attribute_defaults_to_3_and_accepts_5_and_7()
    {
        Assert.Equal(3, new ReplicatedAttribute().Replicas);
        Assert.Equal(5, new ReplicatedAttribute { Replicas = 5 }.Replicas);
        Assert.Equal(7, new ReplicatedAttribute { Replicas = 7 }.Replicas);
    }

    [Theory]
    [InlineData(0)]
    [InlineData(1)]
    [InlineData(4)]
    [InlineData(9)]
    [InlineData(-3)]
    public void Attribute_rejects_other_counts_naming_the_value(int replicas)
    {
        var exception = Assert.Throws<ArgumentException>(() => new ReplicatedAttribute { Replicas = replicas });
        Assert.Contains($"Replicas = {replicas}", exception.Message);
        Assert.Equal("Replicas", exception.ParamName);
    }

    [Fact]
    public void Replica_count_travels_from_the_attribute_to_the_runtime_strategy_through_grain_properties()
    {
        var properties = new Dictionary<string, string>();
        new ReplicatedAttribute { Replicas = 5 }.Populate(null!, typeof(AccountGrain), GrainType.Create("account"), properties);

        Assert.Equal(nameof(ReplicatedPlacement), properties[WellKnownGrainTypeProperties.PlacementStrategy]);
        var runtimeStrategy = new ReplicatedPlacement(); // the DI instance, not the attribute's
        runtimeStrategy.Initialize(new GrainProperties(properties.ToImmutableDictionary(StringComparer.Ordinal)));
        Assert.Equal(5, runtimeStrategy.Replicas);
    }

    [Fact]
    public void Without_a_count_on_the_attribute_the_options_decide()
    {
        var properties = new Dictionary<string, string>();
        new ReplicatedAttribute().Populate(null!, typeof(AccountGrain), GrainType.Create("account"), properties);
        var runtimeStrategy = new ReplicatedPlacement();
        runtimeStrategy.Initialize(new GrainProperties(properties.ToImmutableDictionary(StringComparer.Ordinal)));
        Assert.Equal(ReplicatedPlacement.ReplicasFromOptions, runtimeStrategy.Replicas);
    }

    [Fact]
    public async Task Director_places_on_the_first_replica_silo_that_is_compatible_when_the_local_silo_holds_no_replica()
    {
        var locator = new FixedLocator(S3, S1, S2);
        var director = Director(locator, replicationFactor: 5);

        var silo = await director.OnAddActivation(new ReplicatedPlacement(), Target(), new FakeContext(S1, S2, S4) { Local = S4 });

        Assert.Equal(S1, silo);
        Assert.Equal(5, locator.RequestedReplicas); // options' factor when the strategy names none
    }

    [Fact]
    public async Task Director_places_on_the_local_silo_when_it_holds_a_compatible_replica()
    {
        var director = Director(new FixedLocator(S1, S2, S3));

        // The call arrived at S3 (a client's gateway, or a calling grain's silo), which holds a replica: no hop.
        Assert.Equal(S3, await director.OnAddActivation(new ReplicatedPlacement(), Target(), new FakeContext(S1, S2, S3) { Local = S3 }));
        // S3 is not compatible (e.g. shutting down): the first live replica silo instead.
        Assert.Equal(S1, await director.OnAddActivation(new ReplicatedPlacement(), Target(), new FakeContext(S1, S2) { Local = S3 }));
    }

    [Fact]
    public async Task Director_avoids_a_replica_silo_in_a_graceful_stop()
    {
        var locator = new FixedLocator(S1, S2, S3);
        locator.Leaving.Add(S1);
        var director = Director(locator);

        // Neither the local silo nor the heaviest one while it hands its groups over.
        Assert.Equal(S2, await director.OnAddActivation(new ReplicatedPlacement(), Target(), new FakeContext(S1, S2, S3) { Local = S1 }));
        Assert.Equal(S2, await director.OnAddActivation(new ReplicatedPlacement(), Target(), new FakeContext(S1, S2, S3) { Local = S4 }));
        // Only when no other replica silo is live.
        Assert.Equal(S1, await director.OnAddActivation(new ReplicatedPlacement(), Target(), new FakeContext(S1, S4) { Local = S4 }));
    }

    [Fact]
    public async Task Director_does_not_place_on_itself_while_its_log_is_failing_unless_no_other_replica_silo_is_live()
    {
        var director = Director(new FixedLocator(S1, S2, S3), localFit: false);

        // S1 places (the call came through its gateway) and holds a replica, but its log is failing: the next one.
        Assert.Equal(S2, await director.OnAddActivation(new ReplicatedPlacement(), Target(), new FakeContext(S1, S2, S3) { Local = S1 }));
        // Another silo's unfitness is not this director's to know: S4 (no replica) places on the first replica silo.
        Assert.Equal(S1, await director.OnAddActivation(new ReplicatedPlacement(), Target(), new FakeContext(S1, S2, S3) { Local = S4 }));
        // Nor where a placement hint says, when the hint names it.
        Assert.Equal(S2, await director.OnAddActivation(new ReplicatedPlacement(), Target(hint: S1), new FakeContext(S1, S2, S3) { Local = S1 }));
        // The only live replica silo is this one: better a failing log than no activation at all.
        Assert.Equal(S1, await director.OnAddActivation(new ReplicatedPlacement(), Target(), new FakeContext(S1, S4) { Local = S1 }));
    }

    /// <summary>
    /// A silo that restarted less than a lease ago (leases on) hosts no activation while another replica silo is live:
    /// its replicas promise nobody, themselves included, until then, so an activation there served only when the guard
    /// ended (7.6 s with 8 s leases in a rolling restart under load without a pause, session 27).
    /// </summary>
    [Fact]
    public async Task Director_skips_the_placing_silo_while_its_lease_guard_runs()
    {
        var director = Director(new FixedLocator(S1, S2, S3), leaseGuarded: true);

        Assert.Equal(S2, await director.OnAddActivation(new ReplicatedPlacement(), Target(), new FakeContext(S1, S2, S3) { Local = S1 }));
        Assert.Equal(S2, await director.OnAddActivation(new ReplicatedPlacement(), Target(hint: S1), new FakeContext(S1, S2, S3) { Local = S1 }));
        // The only live replica silo is this one: an activation that waits for the guard rather than none.
        Assert.Equal(S1, await director.OnAddActivation(new ReplicatedPlacement(), Target(), new FakeContext(S1, S4) { Local = S1 }));
    }

    [Fact]
    public async Task Director_uses_the_strategys_replica_count()
    {
        var locator = new FixedLocator(S1, S2, S3);
        var strategy = new ReplicatedPlacement { Replicas = 7 };
        await Director(locator).OnAddActivation(strategy, Target(), new FakeContext(S1));
        Assert.Equal(7, locator.RequestedReplicas);
    }

    [Fact]
    public async Task Director_honours_a_placement_hint_only_inside_the_replica_set()
    {
        var director = Director(new FixedLocator(S1, S2, S3));
        var context = new FakeContext(S1, S2, S3, S4) { Local = S4 };

        Assert.Equal(S3, await director.OnAddActivation(new ReplicatedPlacement(), Target(hint: S3), context));
        Assert.Equal(S1, await director.OnAddActivation(new ReplicatedPlacement(), Target(hint: S4), context));
    }

    [Fact]
    public async Task Director_throws_a_clear_exception_when_no_replica_silo_is_alive()
    {
        var director = Director(new FixedLocator(S1, S2, S3));

        var exception = await Assert.ThrowsAsync<ReplicaSetUnavailableException>(
            () => director.OnAddActivation(new ReplicatedPlacement(), Target(), new FakeContext(S4)));
        Assert.Contains(Grain.ToString(), exception.Message);
        Assert.Contains(S1.ToString(), exception.Message);
        Assert.Contains("none of its 3 replica silos", exception.Message);
    }

    [Fact]
    public void Rendezvous_weights_are_stable_and_spread()
    {
        Assert.Equal(RendezvousReplicaSetLocator.Weight(42, 7), RendezvousReplicaSetLocator.Weight(42, 7));
        var firsts = Enumerable.Range(0, 300)
            .Select(g => new[] { 1u, 2u, 3u }.MaxBy(s => RendezvousReplicaSetLocator.Weight((uint)g * 2654435761u, s)))
            .GroupBy(s => s)
            .ToDictionary(g => g.Key, g => g.Count());
        Assert.Equal(3, firsts.Count);
        Assert.All(firsts.Values, count => Assert.InRange(count, 50, 150));
    }

    private static ReplicatedPlacementDirector Director(IReplicaSetLocator locator, int replicationFactor = 3, bool localFit = true, bool leaseGuarded = false) =>
        new(locator, Options.Create(new ReplicatedGrainsOptions { ReplicationFactor = replicationFactor }), new FixedHealth(localFit, leaseGuarded));

    private sealed class FixedHealth(bool fit, bool guarded) : ILocalReplicaHealth
    {
        public string? UnfitReason => guarded ? "lease guard" : fit ? null : "failing log";
    }

    private static PlacementTarget Target(SiloAddress? hint = null) =>
        new(Grain, hint is null ? [] : new Dictionary<string, object> { [IPlacementDirector.PlacementHintKey] = hint }, default, 0);

    private static SiloAddress Silo(int n) => SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 11000 + n), n);

    private sealed class FixedLocator(params SiloAddress[] silos) : IReplicaSetLocator
    {
        public int RequestedReplicas { get; private set; }

        public HashSet<SiloAddress> Leaving { get; } = [];

        public bool IsLeaving(SiloAddress silo) => Leaving.Contains(silo);

        public ValueTask<IReadOnlyList<SiloAddress>> GetReplicaSilosAsync(GrainId grainId, int replicas)
        {
            RequestedReplicas = replicas;
            return new(silos);
        }
    }

    private sealed class FakeContext(params SiloAddress[] compatible) : IPlacementContext
    {
        public SiloAddress? Local { get; init; }

        public SiloAddress LocalSilo => Local ?? compatible[0];

        public SiloStatus LocalSiloStatus => SiloStatus.Active;

        public SiloAddress[] GetCompatibleSilos(PlacementTarget target) => compatible;

        public IReadOnlyDictionary<ushort, SiloAddress[]> GetCompatibleSilosWithVersions(PlacementTarget target) =>
            new Dictionary<ushort, SiloAddress[]> { [0] = compatible };
    }
}

using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// Two births of one new grain's group at once on two silos whose rosters differ (one has not learned the newest
/// roster yet: injected through <see cref="GroupBirth.StaleRosterForTests"/>), on real silos with real consensus:
/// exactly one first configuration results (the newest roster's), and every acknowledged write is read back.
/// </summary>
public sealed class BirthRaceTests
{
    private const int Replicas = 3;

    [Fact]
    public async Task Two_births_from_different_rosters_start_one_configuration_and_lose_no_write()
    {
        await using var cluster = await ScaleOutCluster.StartAsync(4, ReplicationMode.Volatile);
        var (a, b) = (cluster.Silos[0], cluster.Silos[1]);
        long idA = cluster.ReplicaIdOf(a), idB = cluster.ReplicaIdOf(b);
        var roster = cluster.Service<ReplicaRoster>(a);
        var current = roster.Current!;
        long version = roster.Version;
        Assert.True(version > 0, "the fourth silo joined through the meta group's log");

        // B's births start from the roster before one of the other silos joined. Grains whose replica set differs
        // between the two rosters (and includes A and B, so both keep their replica) get two different proposals.
        long joined = current.Members.First(m => m != idA && m != idB);
        var stale = current.Without(joined);
        var keys = Enumerable.Range(0, 600).Select(i => $"birth-race-{i}")
            .Where(k => roster.Pick(GrainOf(k), Replicas, current) is var fresh && fresh.Contains(idA) && fresh.Contains(idB)
                && !fresh.Equals(roster.Pick(GrainOf(k), Replicas, stale)))
            .Take(40).ToList();
        Assert.True(keys.Count >= 20, $"only {keys.Count} grains have different replica sets in the two rosters");

        var birthB = cluster.Service<GroupBirth>(b);
        birthB.StaleRosterForTests = () => (stale, version - 1);
        var runtimeA = cluster.Service<ReplicationRuntime>(a);
        var runtimeB = cluster.Service<ReplicationRuntime>(b);
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));
        try
        {
            await Task.WhenAll(keys.Select(k => Task.WhenAll(
                Task.Run(() => runtimeA.GetOrCreateAsync(GrainOf(k), Replicas, timeout.Token)),
                Task.Run(() => runtimeB.GetOrCreateAsync(GrainOf(k), Replicas, timeout.Token)))));
        }
        finally
        {
            birthB.StaleRosterForTests = null;
        }

        foreach (string key in keys)
        {
            string group = ReplicationRuntime.GroupIdOf(GrainOf(key), Replicas);
            var onA = await ReplicationRuntime.StatusOfAsync(runtimeA.GroupOrNull(group)!);
            var onB = await ReplicationRuntime.StatusOfAsync(runtimeB.GroupOrNull(group)!);
            var expected = roster.Pick(GrainOf(key), Replicas, current);
            Assert.True(new ClusterConfig(onA.Latest).Equals(expected) && new ClusterConfig(onB.Latest).Equals(expected),
                $"grain {key}: A started from {{{string.Join(",", onA.Latest)}}}, B from {{{string.Join(",", onB.Latest)}}}; the newest roster's set is {expected}");
        }

        // The groups work as one log each: every acknowledged deposit is in the balance read back.
        const int deposits = 5;
        var acknowledged = new Dictionary<string, int>();
        foreach (string key in keys)
        {
            var grain = cluster.Client.GetGrain<IAccountGrain>(key);
            for (int i = 0; i < deposits; i++) await grain.Deposit(1);
            acknowledged[key] = deposits;
        }
        foreach (string key in keys)
        {
            Assert.Equal(acknowledged[key], await cluster.Client.GetGrain<IAccountGrain>(key).Deposit(0));
        }
        var holders = cluster.Holders(keys.Select(k => ReplicationRuntime.GroupIdOf(GrainOf(k), Replicas)));
        Assert.All(holders.Values, h => Assert.True(h.Count <= Replicas, $"{h.Count} silos hold a replica of one group"));
    }

    private static GrainId GrainOf(string key) => GrainId.Create("account", key);
}

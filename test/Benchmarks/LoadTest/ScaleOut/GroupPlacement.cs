using OpenReplica.Orleans;
using OpenReplica.Orleans.Replication;
using Orleans.Runtime;

namespace OpenReplica.LoadTest.ScaleOut;

/// <summary>
/// The counter grains' groups as the library names and places them: the group id of a key, and its replica set in a
/// roster by the silos' own placement function (<see cref="ReplicaSetPlacement"/>, rendezvous hashing), so the ideal
/// number of moves after a roster change is computed over the real grain ids.
/// </summary>
internal static class GroupPlacement
{
    private static readonly string GrainType = Scale.IdleMemoryProbe.TypeNameOf(GrainClasses.Replicated);

    public static GrainId GrainIdOf(string key) => GrainId.Create(GrainType, key);

    public static string GroupOf(string key, int replicas) => ReplicationRuntime.GroupIdOf(GrainIdOf(key), replicas);

    /// <summary>The replica set the roster gives the grain of <paramref name="key"/> (members sorted by id; no fault domains in this run).</summary>
    public static long[] ReplicaSet(string key, IReadOnlyList<long> roster, int replicas) =>
        [.. ReplicaSetPlacement.Choose(GrainIdOf(key).GetUniformHashCode(), [.. roster.Select(id => new RosterMember(id, null))], replicas).Order()];

    /// <summary>Groups whose replica set differs between two rosters: the fewest groups any correct rebalance must move.</summary>
    public static int IdealMoves(IEnumerable<string> keys, IReadOnlyList<long> before, IReadOnlyList<long> after, int replicas) =>
        keys.Count(k => !ReplicaSet(k, before, replicas).SequenceEqual(ReplicaSet(k, after, replicas)));
}

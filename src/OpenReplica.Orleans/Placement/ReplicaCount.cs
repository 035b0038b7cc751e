namespace OpenReplica.Orleans;

/// <summary>The replica counts a grain's Paxos group may have: odd, so a majority is well defined, and small.</summary>
internal static class ReplicaCount
{
    public static bool IsAllowed(int replicas) => replicas is 3 or 5 or 7;

    public static void Validate(int replicas, string name)
    {
        if (!IsAllowed(replicas))
        {
            throw new ArgumentException(
                $"{name} = {replicas} is not allowed: a replicated grain has 3, 5 or 7 replicas.", name);
        }
    }
}

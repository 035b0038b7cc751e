using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>Thrown by placement when none of a grain's replica silos is alive and compatible.</summary>
[GenerateSerializer]
public sealed class ReplicaSetUnavailableException : OrleansException
{
    /// <summary>The error with <paramref name="message"/> (which names the grain and its replica set).</summary>
    public ReplicaSetUnavailableException(string message)
        : base(message)
    {
    }
}

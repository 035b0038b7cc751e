using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>Thrown by placement when none of a grain's replica silos is alive and compatible.</summary>
[GenerateSerializer]
public sealed class ReplicaSetUnavailableException : OrleansException
{
    public ReplicaSetUnavailableException(string message)
        : base(message)
    {
    }
}

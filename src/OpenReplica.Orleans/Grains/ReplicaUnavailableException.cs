namespace OpenReplica.Orleans;

/// <summary>
/// The grain's replica cannot serve the call now (it lost leadership to a newer activation, its replica stopped,
/// or no majority of its replica set answered in time). The call may or may not have been chosen: clients that use
/// <c>UseReplicatedGrains()</c> retry it with the same stamp, which is safe (exactly-once).
/// </summary>
[GenerateSerializer]
public sealed class ReplicaUnavailableException : Exception
{
    public ReplicaUnavailableException() { }

    public ReplicaUnavailableException(string message) : base(message) { }

    public ReplicaUnavailableException(string message, Exception inner) : base(message, inner) { }
}

namespace OpenReplica.Orleans;

/// <summary>
/// The grain's replica cannot serve the call now (it lost leadership to a newer activation, its replica stopped,
/// or no majority of its replica set answered in time). The call may or may not have been chosen: clients that use
/// <c>UseReplicatedGrains()</c> retry it with the same stamp, which is safe (exactly-once).
/// </summary>
[GenerateSerializer]
public sealed class ReplicaUnavailableException : Exception
{
    /// <summary>The error with the default message.</summary>
    public ReplicaUnavailableException() { }

    /// <summary>The error with <paramref name="message"/>.</summary>
    public ReplicaUnavailableException(string message) : base(message) { }

    /// <summary>The error with <paramref name="message"/> and the error that caused it.</summary>
    public ReplicaUnavailableException(string message, Exception inner) : base(message, inner) { }
}

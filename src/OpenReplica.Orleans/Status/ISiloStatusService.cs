using Orleans.Services;

namespace OpenReplica.Orleans;

/// <summary>One silo's part of the cluster status: a grain service on every silo, asked by the aggregating grain.</summary>
[Alias("OpenReplica.Orleans.ISiloStatusService")]
internal interface ISiloStatusService : IGrainService
{
    [Alias("GetReportAsync")]
    Task<SiloStatusReport> GetReportAsync();

    /// <summary>
    /// Answers at once. A client sends it through one gateway to that gateway's own silo, to learn whether the gateway
    /// still carries its calls (<see cref="SilentGatewayWatch"/>).
    /// </summary>
    [Alias("ProbeAsync")]
    Task ProbeAsync();
}

/// <summary>A silo's answer: its own status, the roster it knows, and the state of each group replica it holds.</summary>
[GenerateSerializer, Immutable]
internal sealed record SiloStatusReport(
    [property: Id(0)] SiloReplicationStatus Silo,
    [property: Id(1)] long[] RosterMembers,
    [property: Id(2)] GroupReplicaStatus[] Groups);

/// <summary>One group replica on a silo: whether it leads, its commit index and the highest slot it knows.</summary>
[GenerateSerializer, Immutable]
internal sealed record GroupReplicaStatus(
    [property: Id(0)] string Group,
    [property: Id(1)] bool Leader,
    [property: Id(2)] long CommitIndex,
    [property: Id(3)] long KnownSlot,
    [property: Id(4)] long[] Members);

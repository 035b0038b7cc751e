namespace OpenReplica.Orleans;

/// <summary>
/// Where a chosen command sits in its grain's log and the timestamp the leader gave it when proposing. Everything
/// a method may learn about "now" and randomness (<see cref="ReplicatedContext"/>) is derived from this value, so
/// replaying the log reproduces it exactly. Slots increase strictly along a grain's log.
/// </summary>
[GenerateSerializer, Immutable]
public readonly record struct CommandPosition(
    [property: Id(0)] long Slot,
    [property: Id(1)] DateTimeOffset Timestamp,
    [property: Id(2)] CallId Call = default);

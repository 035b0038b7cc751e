using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>Where an engine step makes its groups' records durable (the silo's WAL; a simulated disk in the simulator).</summary>
internal interface IEngineStorage
{
    /// <summary>
    /// Makes every Ready's entries, hard state and snapshot durable (Persisted mode) with one append for all of them;
    /// completes when they are. Throws when the log failed: nothing of it may be acknowledged.
    /// </summary>
    ValueTask PersistAsync(IReadOnlyList<(GroupReplica Group, Ready Ready)> batch);
}

/// <summary>Where an engine step sends its messages: one batch per peer silo for all the groups of the step.</summary>
internal interface IEngineNetwork
{
    /// <summary>
    /// Queues the messages (never blocks); delivery is best effort, the protocol retransmits. Each names the group
    /// replica that sent it (the transport needs only its id; the simulator checks the replica is still the table's).
    /// </summary>
    void Send(IReadOnlyList<(GroupReplica Group, Message Message)> messages);
}

/// <summary>The engine's clock (monotonic milliseconds), for idle periods; the simulator gives its own.</summary>
internal interface IEngineClock
{
    long Now { get; }
}

/// <summary>
/// The silo's monotonic clock in milliseconds, read from a <see cref="TimeProvider"/>'s timestamps (the system's, or a
/// test's clock that runs at another rate: <see cref="ReplicatedGrainsOptions.MonotonicClock"/>).
/// </summary>
internal sealed class MonotonicEngineClock(TimeProvider time) : IEngineClock
{
    public static readonly MonotonicEngineClock System = new(TimeProvider.System);

    private readonly long _frequency = time.TimestampFrequency;
    private readonly long _ticksPerMs = time.TimestampFrequency % 1000 == 0 ? time.TimestampFrequency / 1000 : 0;

    // Read on every input of every group: a division when the frequency is whole ticks per millisecond (the system's
    // is), else Int128, since a nanosecond timestamp times 1,000 overflows a long after about 106 days of uptime.
    public long Now => _ticksPerMs > 0 ? time.GetTimestamp() / _ticksPerMs : (long)((Int128)time.GetTimestamp() * 1000 / _frequency);
}

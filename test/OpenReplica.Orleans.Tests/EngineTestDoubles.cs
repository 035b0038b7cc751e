using OpenReplica.Consensus;
using OpenReplica.Orleans.Replication;

namespace OpenReplica.Orleans.Tests;

/// <summary>An engine network that keeps what a worker sent (and how many sends it made) instead of sending it.</summary>
internal sealed class RecordingNetwork : IEngineNetwork
{
    public List<(string GroupId, Message Message)> Sent { get; } = [];

    public int Calls { get; private set; }

    public void Send(IReadOnlyList<(GroupReplica Group, Message Message)> messages)
    {
        Calls++;
        Sent.AddRange(messages.Select(m => (m.Group.GroupId, m.Message)));
    }
}

/// <summary>An engine clock the test sets by hand.</summary>
internal sealed class ManualClock : IEngineClock
{
    public long Now { get; set; }
}

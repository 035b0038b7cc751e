using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>One readable line per message, for --trace.</summary>
public static class TraceFormat
{
    public static string Describe(object message) => message switch
    {
        Prepare m => $"r{m.From}->r{m.To} Prepare b={m.Ballot} commit={m.CommitIndex}",
        Promise m => $"r{m.From}->r{m.To} Promise b={m.Ballot} commit={m.CommitIndex} snap={m.SnapshotSlot} [{string.Join(" ", m.Accepted)}]",
        Accept m => $"r{m.From}->r{m.To} Accept b={m.Ballot} commit={m.CommitIndex} [{string.Join(" ", m.Entries)}]",
        Accepted m => $"r{m.From}->r{m.To} Accepted b={m.Ballot} slots=[{string.Join(",", m.Slots)}]",
        Rejected m => $"r{m.From}->r{m.To} Rejected promised={m.Promised}",
        Heartbeat m => $"r{m.From}->r{m.To} Heartbeat b={m.Ballot} commit={m.CommitIndex} ctx={m.ReadContext}",
        HeartbeatAck m => $"r{m.From}->r{m.To} HeartbeatAck b={m.Ballot} ctx={m.ReadContext} commit={m.CommitIndex}",
        CatchUpRequest m => $"r{m.From}->r{m.To} CatchUpRequest [{m.FromSlot},{m.ToSlot}]",
        CatchUpResponse m => $"r{m.From}->r{m.To} CatchUpResponse commit={m.CommitIndex} [{string.Join(" ", m.Entries)}]",
        InstallSnapshot m => $"r{m.From}->r{m.To} InstallSnapshot slot={m.Snapshot.Slot}",
        LeaseRelease m => $"r{m.From}->r{m.To} LeaseRelease b={m.Ballot}",
        ClientRequest m => $"c{m.ClientEndpoint}->? Request #{m.Sequence} {m.Input.Op} {m.Input.Key} {m.Input.Expected}->{m.Input.Value}{(m.ViaLog ? " (log)" : "")}",
        ClientReply m => m.Output is null ? $"Reply #{m.Sequence} redirect to {m.LeaderHint}" : $"Reply #{m.Sequence} {m.Output.Value} ok={m.Output.Ok}",
        _ => message.ToString() ?? "?",
    };
}

using System.Text;
using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

/// <summary>One short, deterministic line per message and per event, with payloads shown as text.</summary>
internal static class TraceFormat
{
    public static string Payload(Command c) => Encoding.UTF8.GetString(c.Payload);

    public static string Value(LogValue v) => v.Kind switch
    {
        LogValueKind.Noop => "noop",
        LogValueKind.Config => "config" + v.Config,
        _ => string.Join(",", v.Commands.Select(Payload)),
    };

    public static string Entry(LogEntry e) => $"{e.Slot}@{e.Ballot}{(e.Chosen ? "!" : "")}:{Value(e.Value)}";

    public static string Entries(IEnumerable<LogEntry> entries) => "[" + string.Join(" ", entries.Select(Entry)) + "]";

    public static string Message(Message message) => $"r{message.From}->r{message.To} " + message switch
    {
        Prepare m => $"Prepare b={m.Ballot} commit={m.CommitIndex}",
        Promise m => $"Promise b={m.Ballot} commit={m.CommitIndex} snap={m.SnapshotSlot} {Entries(m.Accepted)}",
        Accept m => $"Accept b={m.Ballot} commit={m.CommitIndex} {Entries(m.Entries)}",
        Accepted m => $"Accepted b={m.Ballot} slots=[{string.Join(",", m.Slots)}]",
        Rejected m => $"Rejected promised={m.Promised}",
        Heartbeat m => $"Heartbeat b={m.Ballot} commit={m.CommitIndex} ctx={m.ReadContext}",
        HeartbeatAck m => $"HeartbeatAck b={m.Ballot} ctx={m.ReadContext} commit={m.CommitIndex}",
        CatchUpRequest m => $"CatchUpRequest [{m.FromSlot},{m.ToSlot}]",
        CatchUpResponse m => $"CatchUpResponse commit={m.CommitIndex} {Entries(m.Entries)}",
        InstallSnapshot m => $"InstallSnapshot slot={m.Snapshot.Slot} configs={m.Snapshot.Configs}",
        LeaseRelease m => $"LeaseRelease b={m.Ballot}",
        _ => message.GetType().Name,
    };

    /// <summary>What a Ready asks the host to do besides sending: commits, snapshots, answers to clients.</summary>
    public static IEnumerable<string> Events(long id, Ready ready, PaxosReplica? replica)
    {
        string r = $"r{id}:";
        if (ready.BecameLeader) yield return $"{r} became leader b={replica?.LeaderBallot}";
        if (ready.LostLeadership) yield return $"{r} lost leadership";
        if (ready.SnapshotToInstall is { } snap) yield return $"{r} install snapshot slot={snap.Slot}";
        foreach (var e in ready.Committed)
        {
            string value = e.Kind switch
            {
                LogValueKind.Noop => "noop",
                LogValueKind.Config => "config" + e.Config,
                _ => string.Join(",", e.Commands.Select(c => Payload(c.Command) + (c.IsDuplicate ? "(dup)" : ""))),
            };
            yield return $"{r} apply {e.Slot}:{value}";
        }
        foreach (var x in ready.Rejections)
        {
            string what = x.Command is { } c ? Payload(c) : "config";
            yield return $"{r} reject {what}: {x}";
        }
        foreach (var c in ready.Abandoned) yield return $"{r} abandon {Payload(c)}";
        foreach (var read in ready.Reads) yield return $"{r} read {read.RequestId} ready at {read.Index}";
        foreach (long read in ready.FailedReads) yield return $"{r} read {read} failed";
    }

    public static string Status(Node node)
    {
        if (node.Core is not { } r) return $"r{node.Id}: down";
        string leader = r.LeaderBallot is { } b && r.IsLeader ? $" ballot={b}" : r.LeaderHint is { } h ? $" hint=r{h}" : "";
        return $"r{node.Id}: {r.Role}{leader} promised={r.Promised} commit={r.CommitIndex} applied={r.AppliedIndex} " +
               $"snap={r.SnapshotSlot} config={r.Config} state=[{string.Join(",", node.State)}]";
    }
}

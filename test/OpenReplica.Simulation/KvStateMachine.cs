using System.Text;
using OpenReplica.Checker;
using OpenReplica.Consensus;

namespace OpenReplica.Simulation;

/// <summary>
/// The replicated state machine the simulator runs: a key-value map with compare-and-set, plus the reply of
/// every applied command so a retried (duplicate) command is answered with its original reply.
/// </summary>
public sealed class KvStateMachine
{
    private readonly SortedDictionary<string, string> _data = new(StringComparer.Ordinal);
    private readonly Dictionary<CommandId, KvOutput> _replies = [];

    public long AppliedSlot { get; private set; }

    /// <summary>Planted non-determinism (<see cref="PlantedBug.NonDeterministicStateMachine"/>): appended to every value put.</summary>
    public string? Drift { get; set; }

    public KvOutput? ReplyFor(CommandId id) => _replies.TryGetValue(id, out var r) ? r : null;

    public string? Read(string key) => _data.TryGetValue(key, out var v) ? v : null;

    public void ApplyEntry(CommittedEntry entry, Action<CommandId, KvOutput>? onReply = null)
    {
        AppliedSlot = entry.Slot;
        foreach (var ac in entry.Commands)
        {
            var id = ac.Command.Id;
            KvOutput reply;
            if (ac.IsDuplicate)
            {
                // Exactly-once: never run again; answer with what the first application returned.
                reply = _replies.TryGetValue(id, out var stored) ? stored : new KvOutput(null, false);
            }
            else
            {
                reply = Apply(KvCommand.Decode(ac.Command.Payload));
                _replies[id] = reply;
            }
            onReply?.Invoke(id, reply);
        }
    }

    private KvOutput Apply(KvInput input)
    {
        string? current = Read(input.Key);
        switch (input.Op)
        {
            case KvOp.Get:
                return new KvOutput(current);
            case KvOp.Put:
                _data[input.Key] = input.Value! + Drift;
                return new KvOutput(null, true);
            default:
                if (current != input.Expected) return new KvOutput(current, false);
                _data[input.Key] = input.Value!;
                return new KvOutput(null, true);
        }
    }

    /// <summary>The digest replicas compare at the same slot (as grain activations compare checkpoints).</summary>
    public ulong Digest() => System.IO.Hashing.XxHash3.HashToUInt64(Encoding.UTF8.GetBytes(Fingerprint()));

    /// <summary>A canonical text of the whole state: equal states have equal fingerprints.</summary>
    public string Fingerprint()
    {
        var sb = new StringBuilder();
        foreach (var (k, v) in _data) sb.Append(k).Append('=').Append(v).Append(';');
        sb.Append('|');
        foreach (var (id, r) in _replies.OrderBy(kv => kv.Key.ClientId).ThenBy(kv => kv.Key.Sequence))
        {
            sb.Append(id).Append(':').Append(r.Value).Append(r.Ok ? "+" : "-").Append(';');
        }
        return sb.ToString();
    }

    public byte[] Serialize()
    {
        var sb = new StringBuilder();
        sb.Append(AppliedSlot).Append('\n');
        foreach (var (k, v) in _data) sb.Append("D\t").Append(k).Append('\t').Append(v).Append('\n');
        foreach (var (id, r) in _replies)
        {
            sb.Append("R\t").Append(id.ClientId).Append('\t').Append(id.Sequence).Append('\t')
              .Append(r.Value is null ? "\u0002" : r.Value).Append('\t').Append(r.Ok ? '1' : '0').Append('\n');
        }
        return Encoding.UTF8.GetBytes(sb.ToString());
    }

    public static KvStateMachine Deserialize(byte[] bytes)
    {
        var sm = new KvStateMachine();
        var lines = Encoding.UTF8.GetString(bytes).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0) return sm;
        sm.AppliedSlot = long.Parse(lines[0]);
        foreach (var line in lines.Skip(1))
        {
            var p = line.Split('\t');
            if (p[0] == "D") sm._data[p[1]] = p[2];
            else sm._replies[new CommandId(Guid.Parse(p[1]), long.Parse(p[2]))] = new KvOutput(p[3] == "\u0002" ? null : p[3], p[4] == "1");
        }
        return sm;
    }
}

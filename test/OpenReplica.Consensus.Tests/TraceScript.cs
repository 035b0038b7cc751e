using System.Text;
using OpenReplica.Consensus;

namespace OpenReplica.Consensus.Tests;

/// <summary>
/// Runs a testdata script in the style of etcd's interaction tests. A script is a list of blocks:
/// <code>
/// # comment
/// command args
/// ----
/// expected output (no blank lines)
/// </code>
/// separated by blank lines. Commands:
///   cluster N [window=W] [batch=B] [election=T] [catchup=C]   (first command)
///   campaign ID | propose ID P1 [P2 ...] | retry ID P (same identity as an earlier P) | read ID REQ
///   config ID add X | remove X | replace X Y | add-node X
///   deliver [FILTER]   without a filter: until no message is left; with one: only the matching queued ones
///   drop FILTER | isolate ID | heal | tick ID|all [N] | crash ID | restart ID | compact ID
///   status | log ID | queue
/// FILTER is FROM->TO with * as a wildcard, optionally followed by a message type (1->* Accept).
/// </summary>
internal sealed class TraceScript
{
    private Cluster? _cluster;
    private readonly List<string> _out = [];
    private readonly Dictionary<string, Command> _commandsByPayload = [];

    public static IReadOnlyList<(string Command, string Expected)> Parse(string text)
    {
        var blocks = new List<(string, string)>();
        var lines = text.Replace("\r\n", "\n").Split('\n');
        int i = 0;
        while (i < lines.Length)
        {
            var command = new List<string>();
            while (i < lines.Length && lines[i] != "----")
            {
                if (lines[i].Length > 0) command.Add(lines[i]);
                i++;
            }
            if (i >= lines.Length)
            {
                if (command.Count > 0) throw new FormatException($"block without ---- : {string.Join(" / ", command)}");
                break;
            }
            i++; // ----
            var expected = new List<string>();
            while (i < lines.Length && lines[i].Length > 0) expected.Add(lines[i++]);
            blocks.Add((string.Join("\n", command), string.Join("\n", expected)));
        }
        return blocks;
    }

    public static string Render(IEnumerable<(string Command, string Output)> blocks) =>
        string.Join("\n\n", blocks.Select(b => b.Command + "\n----\n" + b.Output)) + "\n";

    /// <summary>Runs one command block (comment lines are kept in the block and ignored here).</summary>
    public string Run(string block)
    {
        _out.Clear();
        foreach (string line in block.Split('\n').Where(l => !l.StartsWith('#')))
        {
            var args = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            Execute(args);
        }
        return _out.Count == 0 ? "ok" : string.Join("\n", _out);
    }

    private Cluster C => _cluster ?? throw new InvalidOperationException("the script must start with 'cluster N'");

    private static long Id(string s) => long.Parse(s.TrimStart('r'));

    private void Execute(string[] a)
    {
        switch (a[0])
        {
            case "cluster": NewCluster(a); break;
            case "campaign": Print(Id(a[1]), () => C.Campaign(Id(a[1]))); break;
            case "propose":
                {
                    long id = Id(a[1]);
                    var commands = a.Skip(2).Select(p => _commandsByPayload[p] = C.NewCommand(p)).ToList();
                    Print(id, () => C.Handle(id, C[id].Propose(commands)));
                    break;
                }
            case "retry": Print(Id(a[1]), () => C.Propose(Id(a[1]), _commandsByPayload[a[2]])); break;
            case "read": Print(Id(a[1]), () => C.ReadIndex(Id(a[1]), long.Parse(a[2]))); break;
            case "config": Config(a); break;
            case "add-node": C.AddNode(Id(a[1])); _out.Add($"r{Id(a[1])}: added with an empty disk"); break;
            case "deliver": Deliver(a.Length > 1 ? Filter(a[1..]) : null); break;
            case "drop":
                {
                    var filter = Filter(a[1..]);
                    foreach (var m in C.Queue.Where(filter).ToList()) _out.Add("dropped " + TraceFormat.Message(m));
                    C.DropQueued(filter);
                    break;
                }
            case "isolate": C.Isolate(Id(a[1])); _out.Add($"r{Id(a[1])} isolated"); break;
            case "heal": C.Heal(); _out.Add("healed"); break;
            case "tick": Tick(a); break;
            case "crash": C.Crash(Id(a[1])); _out.Add($"r{Id(a[1])} crashed"); break;
            case "restart":
                {
                    long id = Id(a[1]);
                    Print(id, () => C.Restart(id));
                    _out.Insert(0, $"r{id} restarted: promised={C[id].Promised} commit={C[id].CommitIndex} snap={C[id].SnapshotSlot}");
                    break;
                }
            case "compact":
                C.Compact(Id(a[1]));
                _out.Add($"r{Id(a[1])} compacted through {C[Id(a[1])].SnapshotSlot}");
                break;
            case "status": _out.AddRange(C.Nodes.Values.Select(TraceFormat.Status)); break;
            case "log":
                {
                    var r = C[Id(a[1])];
                    _out.Add($"r{Id(a[1])} snap={r.SnapshotSlot} {TraceFormat.Entries(r.Entries)}");
                    break;
                }
            case "queue": _out.AddRange(C.Queue.Select(TraceFormat.Message)); break;
            default: throw new FormatException($"unknown command '{a[0]}'");
        }
    }

    private void NewCluster(string[] a)
    {
        var options = a.Skip(2).Select(kv => kv.Split('=')).ToDictionary(kv => kv[0], kv => int.Parse(kv[1]));
        _cluster = new Cluster(int.Parse(a[1]), o =>
        {
            o.Window = options.GetValueOrDefault("window", 4);
            o.MaxBatchCommands = options.GetValueOrDefault("batch", ReplicaOptions.DefaultMaxBatchCommands);
            o.ElectionTimeoutTicks = options.GetValueOrDefault("election", 0);
            o.MaxCatchUpEntries = options.GetValueOrDefault("catchup", ReplicaOptions.DefaultMaxCatchUpEntries);
        });
    }

    /// <summary>Runs an input and prints the messages it queued and the events it caused.</summary>
    private void Print(long id, Func<Ready> input)
    {
        int sent = C.Sent.Count;
        var events = new List<string>();
        C.OnReady = (rid, ready) => events.AddRange(TraceFormat.Events(rid, ready, C.Node(rid).Core));
        input();
        C.OnReady = null;
        AddSent(sent, indent: "");
        _out.AddRange(events);
    }

    private void AddSent(int from, string indent)
    {
        foreach (var m in C.Sent.Skip(from))
        {
            _out.Add(indent + TraceFormat.Message(m) + (C.Dropped.Contains(m) ? " (dropped)" : ""));
        }
    }

    private void Deliver(Func<Message, bool>? filter)
    {
        var batch = filter is null ? null : C.Queue.Where(filter).ToList();
        int limit = 10_000;
        while (true)
        {
            Message m;
            if (batch is null)
            {
                if (C.Queue.Count == 0) break;
                m = C.Queue[0];
            }
            else
            {
                if (batch.Count == 0) break;
                m = batch[0];
                batch.RemoveAt(0);
            }
            if (--limit == 0) throw new InvalidOperationException("deliver never settles");
            C.Queue.Remove(m);
            var events = new List<string>();
            C.OnReady = (rid, ready) => events.AddRange(TraceFormat.Events(rid, ready, C.Node(rid).Core));
            int delivered = C.Delivered.Count;
            C.Deliver(m);
            C.OnReady = null;
            bool arrived = C.Delivered.Count > delivered;
            _out.Add(TraceFormat.Message(m) + (arrived ? "" : " (lost)"));
            foreach (string e in events) _out.Add("  " + e);
        }
    }

    private void Tick(string[] a)
    {
        int n = a.Length > 2 ? int.Parse(a[2]) : 1;
        var ids = a[1] == "all" ? C.Nodes.Values.Where(x => x.IsUp).Select(x => x.Id).ToList() : [Id(a[1])];
        int sent = C.Sent.Count;
        var events = new List<string>();
        C.OnReady = (rid, ready) => events.AddRange(TraceFormat.Events(rid, ready, C.Node(rid).Core));
        for (int i = 0; i < n; i++)
        {
            foreach (long id in ids) C.Handle(id, C[id].Tick());
        }
        C.OnReady = null;
        AddSent(sent, indent: "");
        _out.AddRange(events);
    }

    private void Config(string[] a)
    {
        long id = Id(a[1]);
        var current = C[id].Configs.Latest;
        var next = a[2] switch
        {
            "add" => current.With(Id(a[3])),
            "remove" => current.Without(Id(a[3])),
            "replace" => current.Replace(Id(a[3]), Id(a[4])),
            _ => throw new FormatException($"config {a[2]}?"),
        };
        Print(id, () => C.ProposeConfig(id, next));
    }

    private static Func<Message, bool> Filter(string[] a)
    {
        var ends = a[0].Split("->");
        Func<long, bool> from = ends[0] == "*" ? _ => true : x => x == Id(ends[0]);
        Func<long, bool> to = ends[1] == "*" ? _ => true : x => x == Id(ends[1]);
        string? type = a.Length > 1 ? a[1] : null;
        return m => from(m.From) && to(m.To) && (type is null || m.GetType().Name == type);
    }
}

using OpenReplica.Testing;
using System.Globalization;

namespace OpenReplica.Chaos;

/// <summary>
/// Network partitions between silo processes on loopback, with iptables. Orleans uses a silo-to-silo connection in
/// both directions whichever end opened it, so a rule on one silo's port alone cuts nothing: a connection must be
/// told apart by BOTH its ends. Each silo runs in its own cgroup (<see cref="SiloCgroups"/>); a mangle rule marks
/// every connection a silo opens with the silo's number (CONNMARK), and a connection's acceptor is the silo whose
/// port it was opened to (conntrack's original destination port). Cutting silos A and B drops every packet of a
/// connection marked A to B's port or marked B to A's port — both directions, whichever end opened it — while the
/// clients' gateway connections (opened by the tool, unmarked) stay up. Every rule carries a comment unique to this
/// run, and exactly those rules are removed when healing, at exit and on Ctrl-C. Other rules are never touched.
/// </summary>
internal sealed class Partitions : IDisposable
{
    private const int MarkBase = 0x4F520000; // "OR"; the low bits are the silo's number + 1
    private static readonly string Tag = $"openreplica-chaos-{Environment.ProcessId}";
    private static readonly object Gate = new();
    private static readonly List<string[]> AllAdded = [];
    private static int _hooked;
    private readonly List<string[]> _cuts = [];
    private readonly List<string[]> _marks = [];

    /// <summary>Marks the connections each silo opens; must run before the silos start.</summary>
    public Partitions(SiloCgroups cgroups, int silos)
    {
        if (Interlocked.Exchange(ref _hooked, 1) == 0) AppDomain.CurrentDomain.ProcessExit += (_, _) => RemoveEverything();
        for (int i = 0; i < silos; i++)
        {
            string[] rule = ["-t", "mangle", "OUTPUT", "-m", "cgroup", "--path", cgroups.PathOf(i), "-m", "conntrack", "--ctstate", "NEW",
                "-m", "comment", "--comment", Tag, "-j", "CONNMARK", "--set-mark", Hex(MarkBase + i + 1)];
            Add(rule, _marks);
        }
    }

    /// <summary>Silo-to-silo port of each silo (known once the cluster started).</summary>
    public IReadOnlyList<int> Ports { get; set; } = [];

    /// <summary>Gateway port of each silo (known once the cluster started).</summary>
    public IReadOnlyList<int> GatewayPorts { get; set; } = [];

    /// <summary>
    /// Drops every packet to and from <paramref name="silo"/>'s gateway port: the clients' connections to it stay open
    /// and carry nothing (silos never connect to gateway ports, so their links are untouched).
    /// </summary>
    public void SilenceGateway(int silo)
    {
        string port = GatewayPorts[silo].ToString(CultureInfo.InvariantCulture);
        Add(["filter", "INPUT", "-i", "lo", "-p", "tcp", "--dport", port, "-m", "comment", "--comment", Tag, "-j", "DROP"], _cuts);
        Add(["filter", "INPUT", "-i", "lo", "-p", "tcp", "--sport", port, "-m", "comment", "--comment", Tag, "-j", "DROP"], _cuts);
    }

    public static bool Available => Iptables.Run(["-w", "-L", "OUTPUT", "-n"]) == 0 && Iptables.Run(["-w", "-t", "mangle", "-L", "OUTPUT", "-n"]) == 0;

    /// <summary>Cuts every connection between silo <paramref name="a"/> and silo <paramref name="b"/>.</summary>
    public void Cut(int a, int b)
    {
        Add(Drop(a, b), _cuts);
        Add(Drop(b, a), _cuts);
    }

    /// <summary>Cuts <paramref name="silo"/> from every other silo (its gateway stays reachable for clients).</summary>
    public void Isolate(int silo)
    {
        for (int other = 0; other < Ports.Count; other++) if (other != silo) Cut(silo, other);
    }

    private string[] Drop(int opener, int acceptor) =>
        ["filter", "INPUT", "-i", "lo", "-p", "tcp", "-m", "connmark", "--mark", Hex(MarkBase + opener + 1), "-m", "conntrack",
            "--ctorigdstport", Ports[acceptor].ToString(CultureInfo.InvariantCulture), "-m", "comment", "--comment", Tag, "-j", "DROP"];

    public void HealAll() => Remove(_cuts);

    public void Dispose()
    {
        Remove(_cuts);
        Remove(_marks);
    }

    private static string Hex(int value) => "0x" + value.ToString("x", CultureInfo.InvariantCulture);

    private static void Add(string[] rule, List<string[]> into)
    {
        // rule = [table?, chain, match...]: "-t mangle OUTPUT ..." or "filter INPUT ..."
        string[] args = rule[0] == "-t" ? ["-w", "-t", rule[1], "-I", .. rule[2..]] : ["-w", "-t", rule[0], "-I", .. rule[1..]];
        if (Iptables.Run(args) != 0) throw new InvalidOperationException($"iptables {string.Join(' ', args)} failed");
        lock (Gate)
        {
            into.Add(args);
            AllAdded.Add(args);
        }
    }

    private static void Remove(List<string[]> rules)
    {
        lock (Gate)
        {
            foreach (var args in rules)
            {
                Iptables.Run([.. args.Select(a => a == "-I" ? "-D" : a)]);
                AllAdded.Remove(args);
            }
            rules.Clear();
        }
    }

    private static void RemoveEverything()
    {
        lock (Gate)
        {
            foreach (var args in AllAdded) Iptables.Run([.. args.Select(a => a == "-I" ? "-D" : a)]);
            AllAdded.Clear();
        }
    }
}

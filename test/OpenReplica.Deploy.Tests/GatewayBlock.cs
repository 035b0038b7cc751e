using OpenReplica.Testing;

namespace OpenReplica.Deploy.Tests;

/// <summary>
/// Cuts clients off gateways with iptables on loopback, while the silos keep talking to each other on their silo
/// ports: <see cref="Refuse"/> answers every packet to the gateway ports with a TCP reset (the client sees its
/// connections fail), <see cref="Silence"/> drops every packet to and from them (a network that loses the traffic: open
/// connections stay open and nothing arrives, as when a link or a middlebox fails). Every rule carries a comment
/// unique to this instance and exactly those rules are removed on <see cref="Dispose"/>.
/// </summary>
internal sealed class GatewayBlock : IDisposable
{
    private readonly string _tag = $"openreplica-test-{Environment.ProcessId}-{Guid.NewGuid():N}";
    private readonly List<string[]> _added = [];

    /// <summary>Null when iptables can be used here (installed, and we are root), else why not.</summary>
    public static string? Unavailable =>
        Iptables.Run(["-w", "-L", "INPUT", "-n"]) == 0 ? null : "iptables is not usable here (apt-get install iptables; run as root)";

    public void Refuse(IEnumerable<int> gatewayPorts)
    {
        foreach (int port in gatewayPorts)
        {
            Add(["INPUT", "-i", "lo", "-p", "tcp", "--dport", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "-m", "comment", "--comment", _tag, "-j", "REJECT", "--reject-with", "tcp-reset"]);
        }
    }

    public void Silence(IEnumerable<int> gatewayPorts)
    {
        foreach (int port in gatewayPorts)
        {
            string number = port.ToString(System.Globalization.CultureInfo.InvariantCulture);
            Add(["INPUT", "-i", "lo", "-p", "tcp", "--dport", number, "-m", "comment", "--comment", _tag, "-j", "DROP"]);
            Add(["INPUT", "-i", "lo", "-p", "tcp", "--sport", number, "-m", "comment", "--comment", _tag, "-j", "DROP"]);
        }
    }

    private void Add(string[] rule)
    {
        if (Iptables.Run(["-w", "-I", .. rule]) != 0) throw new InvalidOperationException($"iptables -I {string.Join(' ', rule)} failed");
        _added.Add(rule);
    }

    public void Heal()
    {
        foreach (var rule in _added) Iptables.Run(["-w", "-D", .. rule]);
        _added.Clear();
    }

    public void Dispose() => Heal();
}

using OpenReplica.Testing;

namespace OpenReplica.Deploy.Tests;

/// <summary>
/// Makes gateways refuse connections with iptables on loopback: new connections and every packet of open ones to the
/// gateway ports get a TCP reset, while the silos keep talking to each other on their silo ports. Every rule carries a
/// comment unique to this instance and exactly those rules are removed on <see cref="Dispose"/>.
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
            string[] rule = ["INPUT", "-i", "lo", "-p", "tcp", "--dport", port.ToString(System.Globalization.CultureInfo.InvariantCulture),
                "-m", "comment", "--comment", _tag, "-j", "REJECT", "--reject-with", "tcp-reset"];
            if (Iptables.Run(["-w", "-I", .. rule]) != 0) throw new InvalidOperationException($"iptables -I {string.Join(' ', rule)} failed");
            _added.Add(rule);
        }
    }

    public void Heal()
    {
        foreach (var rule in _added) Iptables.Run(["-w", "-D", .. rule]);
        _added.Clear();
    }

    public void Dispose() => Heal();
}

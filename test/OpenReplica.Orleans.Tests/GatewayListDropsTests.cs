using System.Diagnostics;
using System.Net;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The client's watch for gateways that membership dropped from its gateway list reads Orleans' "Orleans.Gateway"
/// diagnostic events. These tests write such events on a listener of the same name (the real Orleans client's events
/// are checked in <see cref="DecommissionTests"/>, where a silo stops gracefully).
/// </summary>
public sealed class GatewayListDropsTests
{
    private static readonly SiloAddress A = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 40001), 1);
    private static readonly SiloAddress B = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 40002), 1);
    private static readonly SiloAddress C = SiloAddress.New(new IPEndPoint(IPAddress.Loopback, 40003), 1);

    /// <summary>The payload's shape as Orleans 10 has it: public fields Source and KnownGateways.</summary>
    private sealed class ListUpdated(object source, IReadOnlyList<SiloAddress> known)
    {
        public readonly object Source = source;
        public readonly IReadOnlyList<SiloAddress> KnownGateways = known;
    }

    private sealed class OtherShape
    {
        public readonly object Source = new();
    }

    [Fact]
    public void A_gateway_that_leaves_the_list_is_reported_once_and_other_clients_lists_are_ignored()
    {
        using var listener = new DiagnosticListener(GatewayListDrops.ListenerName);
        object mine = new(), another = new();
        var reports = new List<IReadOnlyList<IPEndPoint>>();
        using var drops = new GatewayListDrops(() => mine, reports.Add);

        listener.Write(GatewayListDrops.EventName, new ListUpdated(mine, [A, B, C]));
        Assert.Empty(reports); // the first list is the baseline

        listener.Write(GatewayListDrops.EventName, new ListUpdated(another, [A]));
        Assert.Empty(reports); // another client's gateway manager

        // The same gateway with another generation is the same gateway (the provider may or may not say it).
        listener.Write(GatewayListDrops.EventName, new ListUpdated(mine, [SiloAddress.New(A.Endpoint, 0), C]));
        var report = Assert.Single(reports);
        Assert.Equal([B.Endpoint], report);

        listener.Write(GatewayListDrops.EventName, new ListUpdated(mine, [A, C]));
        Assert.Single(reports); // nothing new left

        listener.Write(GatewayListDrops.EventName, new ListUpdated(mine, [A, B, C]));
        listener.Write(GatewayListDrops.EventName, new ListUpdated(mine, [B]));
        Assert.Equal(2, reports.Count);
        Assert.Equal([A.Endpoint, C.Endpoint], reports[1].OrderBy(e => e.Port));
        Assert.Null(drops.DisabledReason);
    }

    [Fact]
    public void A_payload_without_the_expected_fields_turns_the_watch_off_and_says_why()
    {
        using var listener = new DiagnosticListener(GatewayListDrops.ListenerName);
        var reports = new List<IReadOnlyList<IPEndPoint>>();
        using var drops = new GatewayListDrops(() => new object(), reports.Add);

        listener.Write(GatewayListDrops.EventName, new OtherShape());
        listener.Write(GatewayListDrops.EventName, new OtherShape());

        Assert.Empty(reports);
        Assert.Contains("KnownGateways", drops.DisabledReason);
    }

    [Fact]
    public void Without_the_clients_gateway_manager_the_watch_stays_off()
    {
        using var listener = new DiagnosticListener(GatewayListDrops.ListenerName);
        var reports = new List<IReadOnlyList<IPEndPoint>>();
        using var drops = new GatewayListDrops(() => null, reports.Add);

        listener.Write(GatewayListDrops.EventName, new ListUpdated(new object(), [A, B]));
        listener.Write(GatewayListDrops.EventName, new ListUpdated(new object(), [A]));

        Assert.Empty(reports);
        Assert.Contains("gateway manager", drops.DisabledReason);
    }

    [Fact]
    public void After_dispose_no_drop_is_reported()
    {
        using var listener = new DiagnosticListener(GatewayListDrops.ListenerName);
        object mine = new();
        var reports = new List<IReadOnlyList<IPEndPoint>>();
        var drops = new GatewayListDrops(() => mine, reports.Add);
        listener.Write(GatewayListDrops.EventName, new ListUpdated(mine, [A, B]));

        drops.Dispose();
        listener.Write(GatewayListDrops.EventName, new ListUpdated(mine, [A]));

        Assert.Empty(reports);
    }
}

using System.Linq.Expressions;
using System.Reflection;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Takes a gateway off the Orleans client's list of live gateways for a while, so that calls whose bucket went through
/// it are sent through another gateway from their next attempt on.
/// <para>
/// Why a reflection seam: the client picks a grain's gateway once per bucket of grains and keeps it while the
/// connection is open and the gateway is listed as live; it drops a gateway only when a connection fails. A gateway
/// whose traffic is lost without the connection failing (a network that drops packets) stays in use. Orleans 10's
/// <c>GatewayManager.MarkAsUnavailableForSend(SiloAddress)</c> (internal) is what it does itself when it cannot send to a
/// gateway: the gateway leaves the live list until the gateway list has been refreshed after the provider's
/// <c>MaxStaleness</c> (Orleans' <c>GatewayOptions.GatewayListRefreshPeriod</c>, 1 min by default), and a bucket that
/// finds its gateway unlisted picks another. Without the method (another Orleans version) it is off and says why.
/// </para>
/// </summary>
internal sealed class GatewayAvoidance
{
    private readonly Action<SiloAddress>? _avoid;

    private GatewayAvoidance(Action<SiloAddress>? avoid, string? disabledReason) => (_avoid, DisabledReason) = (avoid, disabledReason);

    /// <summary>Null when gateways can be avoided; otherwise why not.</summary>
    public string? DisabledReason { get; }

    public static GatewayAvoidance Create(IServiceProvider services)
    {
        if (GatewayListDrops.GatewayManagerOf(services) is not { } manager)
        {
            return new GatewayAvoidance(null, "no Orleans GatewayManager in this process's services (not an Orleans client)");
        }
        var method = manager.GetType().GetMethod("MarkAsUnavailableForSend", BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic, [typeof(SiloAddress)]);
        if (method is null)
        {
            return new GatewayAvoidance(null, "Orleans' GatewayManager has no MarkAsUnavailableForSend(SiloAddress)");
        }
        var gateway = Expression.Parameter(typeof(SiloAddress), "gateway");
        var avoid = Expression.Lambda<Action<SiloAddress>>(Expression.Call(Expression.Constant(manager), method, gateway), gateway).Compile();
        return new GatewayAvoidance(avoid, null);
    }

    /// <summary>Takes <paramref name="gateway"/> off the live list (until Orleans' next refresh after its staleness bound).</summary>
    public void Avoid(SiloAddress gateway) => _avoid?.Invoke(gateway);
}

using System.Reflection;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Asks a gateway's own silo to answer through that gateway's connection: whether the gateway still carries this
/// client's calls.
/// <para>
/// How: a call to the silo's <see cref="ISiloStatusService"/> (a grain service, i.e. an Orleans system target) addressed
/// to the gateway itself. The Orleans client sends a message to a system target on a listed gateway through its
/// connection to that gateway, and the gateway hands a message for its own system targets to its silo (Orleans' own
/// client fetches the cluster manifest this way). The grain service's id is made as Orleans makes it
/// (<c>GrainServiceClient</c>), from a type code Orleans.Core computes internally (<c>GrainInterfaceUtils</c>), read once
/// by reflection; without it the probe is off and says why.
/// </para>
/// </summary>
internal sealed class GatewayProbe
{
    private readonly IGrainFactory _grains;
    private readonly int _typeCode;

    private GatewayProbe(IGrainFactory grains, int typeCode) => (_grains, _typeCode) = (grains, typeCode);

    private GatewayProbe(string disabledReason) => (_grains, DisabledReason) = (null!, disabledReason);

    /// <summary>Null when probes can be sent; otherwise why not.</summary>
    public string? DisabledReason { get; }

    public static GatewayProbe Create(IGrainFactory grains)
    {
        var utils = typeof(IClusterClient).Assembly.GetType("Orleans.CodeGeneration.GrainInterfaceUtils");
        var typeCode = utils?.GetMethod("GetGrainClassTypeCode", BindingFlags.Static | BindingFlags.Public | BindingFlags.NonPublic, [typeof(Type)]);
        if (typeCode is null || typeCode.ReturnType != typeof(int))
        {
            return new GatewayProbe("Orleans.Core has no GrainInterfaceUtils.GetGrainClassTypeCode(Type) returning int");
        }
        return new GatewayProbe(grains, (int)typeCode.Invoke(null, [typeof(ISiloStatusService)])!);
    }

    /// <summary>The reference a call through <paramref name="gateway"/> to its own silo's status service goes to.</summary>
    public ISiloStatusService ServiceBehind(SiloAddress gateway) =>
        _grains.GetGrain<ISiloStatusService>(SystemTargetGrainId.CreateGrainServiceGrainId(_typeCode, null!, gateway));

    /// <summary>
    /// Whether the gateway's silo answered through it within <paramref name="timeout"/>. Any answer counts, a refusal
    /// too (an older silo without the probe method refuses it): it came back through the gateway. A connection that fails
    /// meanwhile counts as answered as well: the client sees that loss itself (<see cref="GatewayLossWatch"/>).
    /// </summary>
    public async Task<bool> AnswersAsync(SiloAddress gateway, TimeSpan timeout)
    {
        var call = ServiceBehind(gateway).ProbeAsync();
        try
        {
            await call.WaitAsync(timeout);
            return true;
        }
        catch (TimeoutException) when (!call.IsCompleted)
        {
            // Orleans keeps the call until its own response timeout; observe its end so it is not reported unobserved.
            _ = call.ContinueWith(static t => _ = t.Exception, CancellationToken.None, TaskContinuationOptions.OnlyOnFaulted, TaskScheduler.Default);
            return false;
        }
        catch (Exception)
        {
            return true;
        }
    }
}

using System.Diagnostics;
using System.Net;
using System.Reflection;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// Tells a client when membership drops a gateway from its gateway list (a silo became ShuttingDown, or was declared
/// dead), as soon as the client's own gateway-list refresh sees it.
/// <para>
/// Why: a gracefully stopping silo keeps its gateway connections open until the very end of its shutdown, seconds after
/// membership stopped listing it. A call that entered through that gateway in between may get no answer (the silo
/// deactivates its grains and stops its directory) and waits until the connection closes. The client learns the
/// drop at its next gateway-list refresh (<c>GatewayOptions.GatewayListRefreshPeriod</c>), which Orleans already makes,
/// so this watch adds no query to the membership store.
/// </para>
/// <para>
/// How: Orleans 10 reports each refresh on its <see cref="DiagnosticListener"/> <c>"Orleans.Gateway"</c> as the event
/// <c>"GatewayListUpdated"</c>, whose payload has the public fields <c>Source</c> (the client's gateway manager) and
/// <c>KnownGateways</c> (the provider's list). Only events whose source is this client's gateway manager count (a process
/// may host several clients). If the payload lacks those fields (another Orleans version), the watch says so through
/// <see cref="DisabledReason"/> and stays silent; lost connections are still seen by <see cref="GatewayLossWatch"/>.
/// </para>
/// </summary>
internal sealed class GatewayListDrops : IObserver<DiagnosticListener>, IObserver<KeyValuePair<string, object?>>, IDisposable
{
    public const string ListenerName = "Orleans.Gateway";
    public const string EventName = "GatewayListUpdated";

    private readonly Lazy<object?> _source;
    private readonly Action<IReadOnlyList<IPEndPoint>> _onDropped;
    private readonly Lock _lock = new();
    private readonly List<IDisposable> _subscriptions = [];
    private readonly IDisposable _allListeners;
    private (Type Payload, FieldInfo? Source, FieldInfo? Known)? _shape;
    private HashSet<IPEndPoint>? _known;
    private bool _disposed;

    /// <param name="source">
    /// The gateway manager whose refreshes count, read at the first event (resolving it while the client's services are
    /// being built could be circular); if it gives null, the watch stays off.
    /// </param>
    /// <param name="onDropped">Called (on the refreshing thread) with the gateways that left the list since the last refresh.</param>
    public GatewayListDrops(Func<object?> source, Action<IReadOnlyList<IPEndPoint>> onDropped)
    {
        _source = new Lazy<object?>(source);
        _onDropped = onDropped;
        _allListeners = DiagnosticListener.AllListeners.Subscribe(this);
    }

    /// <summary>Null while the payload is understood; otherwise why drops are not reported.</summary>
    public string? DisabledReason { get; private set; }

    /// <summary>Finds Orleans' client gateway manager in a client's services (internal to Orleans.Core); null if absent.</summary>
    public static object? GatewayManagerOf(IServiceProvider services) =>
        typeof(IClusterClient).Assembly.GetType("Orleans.Messaging.GatewayManager") is { } type ? services.GetService(type) : null;

    void IObserver<DiagnosticListener>.OnNext(DiagnosticListener listener)
    {
        if (listener.Name != ListenerName) return;
        lock (_lock)
        {
            if (_disposed) return;
            _subscriptions.Add(listener.Subscribe(this, name => name == EventName));
        }
    }

    void IObserver<KeyValuePair<string, object?>>.OnNext(KeyValuePair<string, object?> value)
    {
        if (value.Key != EventName || value.Value is not { } payload) return;
        List<IPEndPoint>? dropped = null;
        lock (_lock)
        {
            if (_disposed || Read(payload) is not { } known) return;
            if (_known is not null)
            {
                dropped = [.. _known.Where(gateway => !known.Contains(gateway))];
            }
            _known = known;
        }
        if (dropped is { Count: > 0 }) _onDropped(dropped);
    }

    /// <summary>The payload's known gateways by endpoint; null if it is not this client's or not understood.</summary>
    private HashSet<IPEndPoint>? Read(object payload)
    {
        var type = payload.GetType();
        if (_shape?.Payload != type)
        {
            const BindingFlags Public = BindingFlags.Public | BindingFlags.Instance;
            _shape = (type, type.GetField("Source", Public), type.GetField("KnownGateways", Public));
        }
        var (_, sourceField, knownField) = _shape.Value;
        if (sourceField is null || knownField is null)
        {
            DisabledReason = $"the '{EventName}' payload {type.FullName} has no public Source and KnownGateways fields";
            return null;
        }
        if (_source.Value is not { } source)
        {
            DisabledReason = "the client's gateway manager (Orleans.Messaging.GatewayManager) is not among its services";
            return null;
        }
        if (!ReferenceEquals(sourceField.GetValue(payload), source)) return null;
        if (knownField.GetValue(payload) is not IEnumerable<SiloAddress> gateways)
        {
            DisabledReason = $"the '{EventName}' payload's KnownGateways is not a list of silo addresses";
            return null;
        }
        DisabledReason = null;
        // By endpoint: the provider may or may not include the generation.
        return [.. gateways.Select(gateway => gateway.Endpoint)];
    }

    void IObserver<DiagnosticListener>.OnCompleted() { }
    void IObserver<DiagnosticListener>.OnError(Exception error) { }
    void IObserver<KeyValuePair<string, object?>>.OnCompleted() { }
    void IObserver<KeyValuePair<string, object?>>.OnError(Exception error) { }

    public void Dispose()
    {
        lock (_lock)
        {
            if (_disposed) return;
            _disposed = true;
        }
        _allListeners.Dispose();
        foreach (var subscription in _subscriptions) subscription.Dispose();
    }
}

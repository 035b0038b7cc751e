using System.Collections;
using System.Diagnostics.Metrics;
using System.Reflection;
using Microsoft.AspNetCore.Connections;

namespace OpenReplica.Orleans;

/// <summary>
/// The clients a silo's Orleans gateway holds, reached by reflection: which client a gateway connection belongs to,
/// and dropping a client whose connection ended so that its answers leave through another gateway at once.
/// <para>
/// Why: when a client's connection to this gateway closes, Orleans keeps the client as "disconnected" for
/// <c>SiloMessagingOptions.ClientDropTimeout</c> (1 min) and queues every answer for it here, waiting for the client to
/// reconnect to this same gateway. After a connection whose traffic was lost (<see cref="GatewaySendTimeout"/>), the
/// client cannot reconnect here, and it retries through other gateways; the answers of this silo's activations would
/// wait in that queue and be dropped. Dropped at once, the client is no longer this gateway's: Orleans sends its
/// answers through a gateway that holds the client.
/// </para>
/// <para>
/// What it touches (internal to Orleans.Runtime 10.x, bound at first use; if anything is missing, it is off and says
/// why): <c>MessageCenter.Gateway</c>; the gateway's <c>clients</c>, <c>clientConnections</c> and
/// <c>clientsCollectionVersion</c> fields and its <c>_messagingInstruments.ConnectedClient</c> gauge; the nested
/// <c>ClientState</c>'s <c>Connection</c>, <c>Id</c> and <c>Drop()</c>; <c>Connection.Context</c>. The drop does what
/// Orleans' own gateway maintenance does to a client disconnected for longer than its drop timeout, under the same lock.
/// </para>
/// </summary>
internal sealed class GatewayClients
{
    private const BindingFlags Any = BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic;

    private readonly object? _gateway;
    private readonly IDictionary? _clients;
    private readonly IDictionary? _clientConnections;
    private readonly FieldInfo? _version;
    private readonly UpDownCounter<int>? _connected;
    private readonly PropertyInfo? _stateConnection;
    private readonly PropertyInfo? _stateId;
    private readonly MethodInfo? _drop;
    private readonly PropertyInfo? _connectionContext;

    private GatewayClients(string disabledReason) => DisabledReason = disabledReason;

    private GatewayClients(object gateway, IDictionary clients, IDictionary clientConnections, FieldInfo version, UpDownCounter<int>? connected,
        PropertyInfo stateConnection, PropertyInfo stateId, MethodInfo drop, PropertyInfo connectionContext)
    {
        (_gateway, _clients, _clientConnections, _version, _connected) = (gateway, clients, clientConnections, version, connected);
        (_stateConnection, _stateId, _drop, _connectionContext) = (stateConnection, stateId, drop, connectionContext);
    }

    /// <summary>Null when bound; otherwise why not.</summary>
    public string? DisabledReason { get; }

    public static GatewayClients Create(IServiceProvider services)
    {
        var runtime = typeof(global::Orleans.Runtime.Silo).Assembly;
        var messageCenterType = runtime.GetType("Orleans.Runtime.Messaging.MessageCenter");
        var gatewayType = runtime.GetType("Orleans.Runtime.Messaging.Gateway");
        var connectionType = typeof(IClusterClient).Assembly.GetType("Orleans.Runtime.Messaging.Connection");
        if (messageCenterType is null || gatewayType is null || connectionType is null) return new("Orleans has no MessageCenter, Gateway or Connection type");
        if (services.GetService(messageCenterType) is not { } messageCenter) return new("no Orleans MessageCenter in the silo's services");
        if (messageCenterType.GetProperty("Gateway", Any)?.GetValue(messageCenter) is not { } gateway) return new("the silo has no gateway");
        var stateType = gatewayType.GetNestedType("ClientState", BindingFlags.NonPublic);
        var clients = gatewayType.GetField("clients", Any)?.GetValue(gateway) as IDictionary;
        var clientConnections = gatewayType.GetField("clientConnections", Any)?.GetValue(gateway) as IDictionary;
        var version = gatewayType.GetField("clientsCollectionVersion", Any);
        var instruments = gatewayType.GetField("_messagingInstruments", Any)?.GetValue(gateway);
        var connected = instruments?.GetType().GetField("ConnectedClient", Any)?.GetValue(instruments) as UpDownCounter<int>;
        var stateConnection = stateType?.GetProperty("Connection", Any);
        var stateId = stateType?.GetProperty("Id", Any);
        var drop = stateType?.GetMethod("Drop", Any, Type.EmptyTypes);
        var context = connectionType.GetProperty("Context", Any);
        string? missing = clients is null ? "Gateway.clients"
            : clientConnections is null ? "Gateway.clientConnections"
            : version is null || version.FieldType != typeof(long) ? "Gateway.clientsCollectionVersion"
            : stateConnection is null || stateId is null || drop is null ? "Gateway.ClientState's Connection, Id or Drop()"
            : context is null || context.PropertyType != typeof(ConnectionContext) ? "Connection.Context"
            : null;
        return missing is not null
            ? new($"{missing} is not as expected")
            : new GatewayClients(gateway, clients!, clientConnections!, version!, connected, stateConnection!, stateId!, drop!, context!);
    }

    /// <summary>The id of the client whose gateway connection runs on <paramref name="context"/>, or null.</summary>
    public object? ClientOf(ConnectionContext context)
    {
        if (_clients is null) return null;
        lock (_clients) // the gateway's own lock over both collections
        {
            foreach (DictionaryEntry entry in _clientConnections!)
            {
                if (ReferenceEquals(_connectionContext!.GetValue(entry.Key), context)) return _stateId!.GetValue(entry.Value);
            }
        }
        return null;
    }

    /// <summary>
    /// Drops <paramref name="client"/> if it has no connection to this gateway (it did not reconnect meanwhile): answers
    /// queued for it are given up, and the next ones go through another gateway. Whether it was dropped.
    /// </summary>
    public bool DropIfDisconnected(object client)
    {
        if (_clients is null) return false;
        lock (_clients)
        {
            if (_clients[client] is not { } state || _stateConnection!.GetValue(state) is not null) return false;
            _clients.Remove(client);
            _drop!.Invoke(state, null);
            _version!.SetValue(_gateway, (long)_version.GetValue(_gateway)! + 1);
            _connected?.Add(-1);
            return true;
        }
    }
}

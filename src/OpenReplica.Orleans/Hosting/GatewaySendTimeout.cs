using System.Net.Sockets;
using System.Reflection;
using Microsoft.AspNetCore.Connections;
using Microsoft.Extensions.Logging;

namespace OpenReplica.Orleans;

/// <summary>
/// Bounds how long what a silo's gateway sends to a client may stay unacknowledged by the client's machine before the
/// silo closes the connection (<see cref="ReplicatedGrainsOptions.GatewaySendTimeout"/>; TCP_USER_TIMEOUT, Linux).
/// <para>
/// Why: a silo sends every answer for a client through its own gateway connection to that client when it has one,
/// whichever gateway the call came in through. When a network drops that connection's traffic without closing it, the
/// client retries through another gateway (<see cref="SilentGatewayWatch"/>), but the answers of every activation on
/// this silo still go into the dead connection, and the operating system keeps it open for about 15 minutes of
/// retransmissions. Once it is closed, Orleans sends this client's answers through a gateway the client still reaches.
/// Acknowledgements come from the client's kernel, not from its application, so a busy client does not trip it.
/// </para>
/// <para>
/// Closing is not enough: Orleans keeps a client whose connection closed for <c>ClientDropTimeout</c> (1 min), queueing
/// its answers here in case it reconnects to this gateway, which it cannot while the network drops the traffic. So a
/// connection that ended because of this timeout drops its client from the gateway at once
/// (<see cref="GatewayClients"/>), and its answers go through a gateway that holds the client.
/// </para>
/// <para>
/// How: a middleware on the silo's gateway connections sets the option on the connection's socket, and watches the
/// connection's input for the socket's "timed out" error. Orleans 10 does not expose that socket; its socket transport
/// keeps it in a private field (<c>_socket</c>), read by reflection. When the field is not there (another transport,
/// another version), or off Linux, nothing is set and the log says so once.
/// </para>
/// </summary>
internal static partial class GatewaySendTimeout
{
    private const int IpProtoTcp = 6;
    private const int TcpUserTimeout = 18; // linux/tcp.h

    /// <summary>
    /// Adds the middleware to <paramref name="builder"/> (a silo's gateway connections): sets the timeout, and when a
    /// connection ends because of it, drops its client from the gateway at once (<see cref="GatewayClients"/>).
    /// </summary>
    public static void Use(IConnectionBuilder builder, TimeSpan timeout, IServiceProvider services, ILogger logger)
    {
        int reported = 0;
        void ReportOnce(string problem)
        {
            if (Interlocked.Exchange(ref reported, 1) == 0) LogNotSet(logger, problem);
        }
        var clients = new Lazy<GatewayClients>(() => GatewayClients.Create(services));
        builder.Use(next => async context =>
        {
            if (SocketOf(context) is not { } socket)
            {
                // Not Orleans' socket transport (the test kit's in-memory one, say): no network to lose traffic in.
                await next(context);
                return;
            }
            if (Apply(socket, timeout) is { } problem)
            {
                ReportOnce(problem);
                await next(context);
                return;
            }
            // Read while the connection still belongs to its client: once Orleans sees the failure, it forgets which.
            object? timedOut = null;
            context.Transport = new FailureObservingPipe(context.Transport, failure =>
            {
                if (timedOut is null && IsTimeout(failure)) timedOut = clients.Value.ClientOf(context);
            });
            await next(context);
            if (timedOut is null) return;
            if (clients.Value.DisabledReason is { } off) ReportOnce($"a client whose connection timed out stays queued for Orleans' ClientDropTimeout: {off}");
            else if (clients.Value.DropIfDisconnected(timedOut)) LogDropped(logger, timedOut, timeout.TotalSeconds);
        });
    }

    /// <summary>
    /// Whether <paramref name="failure"/> is (or wraps) the socket error of an expired TCP user timeout: "timed out", or
    /// "broken pipe". The kernel hands ETIMEDOUT to the first call that reads the socket's error; when Orleans' send loop
    /// is that call, the connection's input ends with the EPIPE of the sends after it. Seen once in CI (session 39): the
    /// silo logged "Broken pipe" 10 s into the cut, did not drop the client, and queued its answers for a minute. A
    /// reset ("connection reset by peer": the client's machine answered) does not count.
    /// </summary>
    public static bool IsTimeout(Exception failure)
    {
        for (Exception? e = failure; e is not null; e = e.InnerException)
        {
            // .NET reports EPIPE as SocketError.Shutdown (native code 32, "Broken pipe").
            if (e is SocketException { SocketErrorCode: SocketError.TimedOut or SocketError.Shutdown }) return true;
        }
        return false;
    }

    /// <summary>Sets the timeout on a connection's socket; null when set, else why not.</summary>
    public static string? Apply(Socket socket, TimeSpan timeout)
    {
        if (!OperatingSystem.IsLinux()) return "TCP_USER_TIMEOUT is set on Linux only";
        try
        {
            socket.SetRawSocketOption(IpProtoTcp, TcpUserTimeout, BitConverter.GetBytes((uint)timeout.TotalMilliseconds));
            return null;
        }
        catch (SocketException exception)
        {
            return $"setting TCP_USER_TIMEOUT failed: {exception.Message}";
        }
        catch (ObjectDisposedException)
        {
            return null; // the connection closed meanwhile: nothing to bound
        }
    }

    /// <summary>The socket under an Orleans socket-transport connection, or null.</summary>
    public static Socket? SocketOf(ConnectionContext connection)
    {
        for (var type = connection.GetType(); type is not null; type = type.BaseType)
        {
            if (type.GetField("_socket", BindingFlags.Instance | BindingFlags.NonPublic) is { } field && field.FieldType == typeof(Socket))
            {
                return field.GetValue(connection) as Socket;
            }
        }
        return null;
    }

    [LoggerMessage(Level = LogLevel.Warning, Message = "Client {Client} is dropped from this gateway: what the gateway sent it stayed unacknowledged for {Timeout} s. Its answers now go through a gateway that still holds it")]
    private static partial void LogDropped(ILogger logger, object client, double timeout);

    [LoggerMessage(Level = LogLevel.Warning, Message = "GatewaySendTimeout is not applied to this silo's gateway connections ({Reason}): answers to a client whose connection lost its traffic may be held until the operating system gives the connection up")]
    private static partial void LogNotSet(ILogger logger, string reason);
}

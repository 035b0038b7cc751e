using System.Net.Sockets;

namespace OpenReplica.Chaos;

/// <summary>Whether Redis answers at an address (a PING over TCP), so the run can keep membership outside the silos.</summary>
internal static class RedisProbe
{
    public static async Task<string?> ReachableAsync(string address)
    {
        if (string.Equals(address, "none", StringComparison.OrdinalIgnoreCase)) return null;
        string[] parts = address.Split(':');
        int port = parts.Length > 1 && int.TryParse(parts[1], out int p) ? p : 6379;
        try
        {
            using var tcp = new TcpClient();
            await tcp.ConnectAsync(parts[0], port).WaitAsync(TimeSpan.FromSeconds(2));
            var stream = tcp.GetStream();
            await stream.WriteAsync("PING\r\n"u8.ToArray());
            var buffer = new byte[16];
            int read = await stream.ReadAsync(buffer).AsTask().WaitAsync(TimeSpan.FromSeconds(2));
            return read > 0 && buffer[0] == (byte)'+' ? address : null;
        }
        catch (Exception e) when (e is SocketException or IOException or TimeoutException)
        {
            return null;
        }
    }
}

using StackExchange.Redis;

namespace OpenReplica.LoadTest.External;

/// <summary>
/// A private redis-server (Debian's package) on a free loopback port, its append-only file under the work directory,
/// for Microsoft.Orleans.Persistence.Redis.
/// </summary>
public sealed class RedisServer : IAsyncDisposable
{
    // Redis' usual durable setup: every write goes to the append-only file, which is fsynced once a second
    // (a crash loses up to a second of acknowledged writes); no RDB snapshots.
    private static readonly string[] Durability = ["--save", "", "--appendonly", "yes", "--appendfsync", "everysec"];
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(30);

    private readonly ServerProcess _process;
    private readonly ServerDirectory _directory;
    private readonly ServerDescription _description;

    private RedisServer(ServerProcess process, ServerDirectory directory, ServerDescription description, int port)
    {
        (_process, _directory, _description) = (process, directory, description);
        ConnectionString = $"127.0.0.1:{port}";
    }

    /// <summary>StackExchange.Redis configuration string ("127.0.0.1:port").</summary>
    public string ConnectionString { get; }

    /// <summary>"redis 7.0.15".</summary>
    public string Version => _description.Version;

    /// <summary>The durability settings as the running server reports them: "appendonly yes, appendfsync everysec, save ''".</summary>
    public string Settings => _description.Settings;

    public string LogPath => _process.LogPath;

    public static async Task<RedisServer> StartAsync(string workDirectory, CancellationToken ct)
    {
        var binary = await DebianBinaries.RequireAsync(DebianBinaries.RedisServer, ct);
        var directory = ServerDirectory.Create(workDirectory, "redis");
        int port = LoopbackPorts.Free(1)[0];
        string[] arguments = ["--bind", "127.0.0.1", "--port", $"{port}", "--dir", directory.Data, "--daemonize", "no", .. Durability];
        var process = ServerProcess.Start("redis-server", binary, arguments, directory.Root, directory.LogFor("redis-server"));
        try
        {
            ServerDescription? description = null;
            await process.WaitUntilReadyAsync(async _ => (description = await DescribeAsync(port)) is not null, StartTimeout, ct);
            return new RedisServer(process, directory, description!.Value, port);
        }
        catch
        {
            await process.DisposeAsync();
            directory.DeleteData();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        _directory.DeleteData();
    }

    /// <summary>Connects (which fails until the server listens) and reads the version and durability settings back.</summary>
    private static async Task<ServerDescription> DescribeAsync(int port)
    {
        var options = ConfigurationOptions.Parse($"127.0.0.1:{port}");
        options.AllowAdmin = true; // CONFIG GET
        options.ConnectTimeout = 2000;
        await using var connection = await ConnectionMultiplexer.ConnectAsync(options);
        var server = connection.GetServer(connection.GetEndPoints()[0]);
        var config = new Dictionary<string, string>();
        foreach (var name in new[] { "appendonly", "appendfsync", "save" })
        {
            foreach (var (key, value) in await server.ConfigGetAsync(name)) config[key] = value;
        }

        var save = config.GetValueOrDefault("save") is { Length: > 0 } s ? s : "''";
        return new ServerDescription($"redis {server.Version}",
            $"appendonly {config.GetValueOrDefault("appendonly")}, appendfsync {config.GetValueOrDefault("appendfsync")}, save {save}");
    }
}

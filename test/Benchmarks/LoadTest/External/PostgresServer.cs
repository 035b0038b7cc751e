using System.Security.Cryptography;
using Npgsql;

namespace OpenReplica.LoadTest.External;

/// <summary>
/// A private PostgreSQL 15 (Debian's package) on a free loopback port, its cluster and Unix socket under the work
/// directory, with a database holding Orleans' ADO.NET persistence schema, for Microsoft.Orleans.Persistence.AdoNet.
/// </summary>
public sealed class PostgresServer : IAsyncDisposable
{
    // Durability is left at PostgreSQL's defaults (fsync on, synchronous_commit on: a commit returns after its WAL is
    // flushed), the honest comparison. Only max_connections is raised: each silo's Npgsql pool may open up to
    // PoolSize connections, and the default 100 would refuse a second or third silo.
    private const int MaxConnections = 256;
    private const int PoolSize = 64;

    private static readonly TimeSpan InitTimeout = TimeSpan.FromMinutes(2);
    private static readonly TimeSpan StartTimeout = TimeSpan.FromSeconds(60);

    private readonly ServerProcess _process;
    private readonly ServerDirectory _directory;
    private readonly ServerDescription _description;

    private PostgresServer(ServerProcess process, ServerDirectory directory, ServerDescription description, string connectionString)
    {
        (_process, _directory, _description) = (process, directory, description);
        ConnectionString = connectionString;
    }

    /// <summary>Npgsql connection string (TCP on 127.0.0.1) for the database with the Orleans schema; invariant "Npgsql".</summary>
    public string ConnectionString { get; }

    /// <summary>"PostgreSQL 15.18".</summary>
    public string Version => _description.Version;

    /// <summary>The durability settings as the running server reports them ("fsync on, ..., synchronous_commit on, ...").</summary>
    public string Settings => _description.Settings;

    public string LogPath => _process.LogPath;

    public static async Task<PostgresServer> StartAsync(string workDirectory, CancellationToken ct)
    {
        var bin = Path.GetDirectoryName(await DebianBinaries.RequireAsync(Path.Combine(DebianBinaries.PostgresBin, "postgres"), ct))!;
        var directory = ServerDirectory.Create(workDirectory, "postgres");
        var cluster = Path.Combine(directory.Data, "cluster"); // initdb wants a directory of its own
        ServerProcess? process = null;
        try
        {
            var socketDirectory = directory.CreateSocketDirectory();
            await PostgresOsUser.TakeOverAsync(ct, directory.Data, socketDirectory);
            var (initdb, initdbArguments) = PostgresOsUser.Command(Path.Combine(bin, "initdb"),
                "-D", cluster, "-U", "postgres", "--auth-local=trust", "--auth-host=scram-sha-256", "-E", "UTF8", "--no-locale");
            await Commands.RunAsync(initdb, initdbArguments, InitTimeout, ct, directory.Root);

            int port = LoopbackPorts.Free(1)[0];
            var (postgres, arguments) = PostgresOsUser.Command(Path.Combine(bin, "postgres"),
                "-D", cluster, "-p", $"{port}", "-c", "listen_addresses=127.0.0.1",
                "-c", $"unix_socket_directories={socketDirectory}", "-c", $"max_connections={MaxConnections}");
            // SIGINT is PostgreSQL's "fast" shutdown; SIGTERM ("smart") would wait for every client to disconnect.
            process = ServerProcess.Start("postgres", postgres, arguments, directory.Root, directory.LogFor("postgres"), ServerProcess.SigInt);

            // The superuser over the Unix socket (trusted there); Orleans logs in over TCP with a password.
            var admin = new NpgsqlConnectionStringBuilder { Host = socketDirectory, Port = port, Username = "postgres", Database = "postgres", Pooling = false };
            await process.WaitUntilReadyAsync(async t => await QueryAsync(admin.ConnectionString, "SELECT 1", t) is not null, StartTimeout, ct);

            var password = RandomNumberGenerator.GetHexString(32, lowercase: true);
            await PostgresSchema.CreateAsync(admin.ConnectionString, password, ct);
            var orleans = new NpgsqlConnectionStringBuilder
            {
                Host = "127.0.0.1", Port = port, Database = PostgresSchema.Database, Username = PostgresSchema.Login,
                Password = password, MaxPoolSize = PoolSize,
            };
            return new PostgresServer(process, directory, await DescribeAsync(admin.ConnectionString, ct), orleans.ConnectionString);
        }
        catch
        {
            if (process is not null) await process.DisposeAsync();
            directory.DeleteData();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _process.DisposeAsync();
        _directory.DeleteData();
    }

    private static async Task<ServerDescription> DescribeAsync(string connectionString, CancellationToken ct)
    {
        var version = await QueryAsync(connectionString, "SHOW server_version", ct);
        var settings = await QueryAsync(connectionString,
            "SELECT string_agg(name || ' ' || setting, ', ' ORDER BY name) FROM pg_settings " +
            "WHERE name IN ('fsync', 'synchronous_commit', 'wal_sync_method', 'full_page_writes', 'max_connections')", ct);
        return new ServerDescription($"PostgreSQL {version?.Split(' ')[0]}", $"{settings}, Npgsql pool {PoolSize} per silo");
    }

    private static async Task<string?> QueryAsync(string connectionString, string sql, CancellationToken ct)
    {
        await using var connection = new NpgsqlConnection(connectionString);
        await connection.OpenAsync(ct);
        await using var command = new NpgsqlCommand(sql, connection);
        return (await command.ExecuteScalarAsync(ct))?.ToString();
    }
}

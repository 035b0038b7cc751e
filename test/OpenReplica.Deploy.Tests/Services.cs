using Npgsql;
using StackExchange.Redis;

namespace OpenReplica.Deploy.Tests;

/// <summary>
/// The real Redis and PostgreSQL servers the tests run against (127.0.0.1 by default; OPENREPLICA_REDIS and
/// OPENREPLICA_POSTGRES override). The tests never install or start them: CI's .ci/run does (.ci/services.sh); a test
/// whose server does not answer is skipped, saying which server and how to start it.
/// </summary>
internal static class Services
{
    public const string DefaultRedis = "127.0.0.1:6379";
    public const string DefaultPostgres = "Host=127.0.0.1;Port=5432;Database=orleans;Username=orleans;Password=orleans";

    private static readonly SemaphoreSlim SchemaLock = new(1, 1);

    public static string Redis => Environment.GetEnvironmentVariable("OPENREPLICA_REDIS") is { Length: > 0 } r ? r : DefaultRedis;

    public static string Postgres => Environment.GetEnvironmentVariable("OPENREPLICA_POSTGRES") is { Length: > 0 } p ? p : DefaultPostgres;

    /// <summary>The Redis configuration string, or the test is skipped.</summary>
    public static async Task<string> RequireRedisAsync(CancellationToken cancellationToken)
    {
        // The test command changes nothing on the machine: CI's .ci/run starts the servers (.ci/services.sh).
        if (await RedisProblemAsync() is { } problem)
        {
            Assert.Skip($"Redis at {Redis} does not answer ({problem}); start it with .ci/services.sh (or set OPENREPLICA_REDIS).");
        }

        return Redis;
    }

    /// <summary>The Npgsql connection string of a database with Orleans' clustering schema, or the test is skipped.</summary>
    public static async Task<string> RequirePostgresAsync(CancellationToken cancellationToken)
    {
        if (await PostgresProblemAsync(cancellationToken) is { } problem)
        {
            Assert.Skip($"PostgreSQL at '{Redact(Postgres)}' does not answer ({problem}); start it with .ci/services.sh (or set OPENREPLICA_POSTGRES).");
        }

        await EnsureClusteringSchemaAsync(cancellationToken);
        return Postgres;
    }

    /// <summary>Removes a test deployment's rows from the membership store (best effort).</summary>
    public static async Task ForgetRedisClusterAsync(string serviceId, string clusterId)
    {
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync(RedisOptions());
            await redis.GetDatabase().KeyDeleteAsync($"{serviceId}/members/{clusterId}");
        }
        catch (Exception)
        {
            // Best effort: the key is unique to the test run.
        }
    }

    public static async Task ForgetPostgresClusterAsync(string clusterId)
    {
        try
        {
            await using var connection = new NpgsqlConnection(Postgres);
            await connection.OpenAsync();
            await using var command = new NpgsqlCommand(
                "DELETE FROM OrleansMembershipTable WHERE DeploymentId = @id; DELETE FROM OrleansMembershipVersionTable WHERE DeploymentId = @id;",
                connection);
            command.Parameters.AddWithValue("id", clusterId);
            await command.ExecuteNonQueryAsync();
        }
        catch (Exception)
        {
            // Best effort: the rows belong to a unique cluster id.
        }
    }

    private static ConfigurationOptions RedisOptions()
    {
        var options = ConfigurationOptions.Parse(Redis);
        options.AbortOnConnectFail = true;
        options.ConnectTimeout = 3000;
        options.ConnectRetry = 1;
        return options;
    }

    private static async Task<string?> RedisProblemAsync()
    {
        try
        {
            await using var redis = await ConnectionMultiplexer.ConnectAsync(RedisOptions());
            await redis.GetDatabase().PingAsync();
            return null;
        }
        catch (Exception e)
        {
            return e.GetType().Name + ": " + e.Message;
        }
    }

    private static async Task<string?> PostgresProblemAsync(CancellationToken cancellationToken)
    {
        try
        {
            var builder = new NpgsqlConnectionStringBuilder(Postgres) { Timeout = 3 };
            await using var connection = new NpgsqlConnection(builder.ConnectionString);
            await connection.OpenAsync(cancellationToken);
            return null;
        }
        catch (Exception e) when (e is not OperationCanceledException || !cancellationToken.IsCancellationRequested)
        {
            return e.GetType().Name + ": " + e.Message;
        }
    }

    /// <summary>
    /// Loads Orleans' PostgreSQL clustering schema (PostgreSQL-Main.sql + PostgreSQL-Clustering.sql, copied next to the
    /// tests from samples/Deploy/sql) into the database unless it is there already.
    /// </summary>
    private static async Task EnsureClusteringSchemaAsync(CancellationToken cancellationToken)
    {
        await SchemaLock.WaitAsync(cancellationToken);
        try
        {
            await using var connection = new NpgsqlConnection(Postgres);
            await connection.OpenAsync(cancellationToken);
            await using var transaction = await connection.BeginTransactionAsync(cancellationToken);
            await Execute("SELECT pg_advisory_xact_lock(7262011)"); // against a concurrent loader (another test run)
            await using (var check = new NpgsqlCommand("SELECT to_regclass('orleansmembershiptable') IS NOT NULL", connection, transaction))
            {
                if ((bool)(await check.ExecuteScalarAsync(cancellationToken))!)
                {
                    return;
                }
            }

            foreach (var script in new[] { "PostgreSQL-Main.sql", "PostgreSQL-Clustering.sql" })
            {
                await Execute(await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "sql", script), cancellationToken));
            }

            await transaction.CommitAsync(cancellationToken);

            async Task Execute(string sql)
            {
                await using var command = new NpgsqlCommand(sql, connection, transaction);
                await command.ExecuteNonQueryAsync(cancellationToken);
            }
        }
        finally
        {
            SchemaLock.Release();
        }
    }

    /// <summary>A file of the repository these tests were built from (found above the test binaries), or null.</summary>
    public static string? RepositoryFile(string relative)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "OpenReplica.sln")))
            {
                var path = Path.Combine(dir.FullName, relative);
                return File.Exists(path) ? path : null;
            }
        }

        return null;
    }

    private static string Redact(string connectionString)
    {
        var builder = new NpgsqlConnectionStringBuilder(connectionString);
        if (!string.IsNullOrEmpty(builder.Password))
        {
            builder.Password = "***";
        }

        return builder.ConnectionString;
    }
}

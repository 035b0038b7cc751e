using System.Diagnostics;
using Npgsql;
using StackExchange.Redis;

namespace OpenReplica.Deploy.Tests;

/// <summary>
/// The real Redis and PostgreSQL servers the tests run against (127.0.0.1 by default; OPENREPLICA_REDIS and
/// OPENREPLICA_POSTGRES override). When one does not answer, .ci/services.sh is run once to install and start both
/// (root and apt-get needed; OPENREPLICA_SERVICES_SETUP=0 turns that off); when it still does not answer, the test
/// is skipped with the reason.
/// </summary>
internal static class Services
{
    public const string DefaultRedis = "127.0.0.1:6379";
    public const string DefaultPostgres = "Host=127.0.0.1;Port=5432;Database=orleans;Username=orleans;Password=orleans";

    private static readonly SemaphoreSlim SetupLock = new(1, 1);
    private static readonly SemaphoreSlim SchemaLock = new(1, 1);
    private static string? _setupResult;

    public static string Redis => Environment.GetEnvironmentVariable("OPENREPLICA_REDIS") is { Length: > 0 } r ? r : DefaultRedis;

    public static string Postgres => Environment.GetEnvironmentVariable("OPENREPLICA_POSTGRES") is { Length: > 0 } p ? p : DefaultPostgres;

    /// <summary>The Redis configuration string, or the test is skipped.</summary>
    public static async Task<string> RequireRedisAsync(CancellationToken cancellationToken)
    {
        var problem = await RedisProblemAsync();
        if (problem is not null)
        {
            await SetUpOnceAsync(cancellationToken);
            problem = await RedisProblemAsync();
        }

        if (problem is not null)
        {
            Assert.Skip($"Redis at {Redis} does not answer ({problem}); .ci/services.sh: {_setupResult}");
        }

        return Redis;
    }

    /// <summary>The Npgsql connection string of a database with Orleans' clustering schema, or the test is skipped.</summary>
    public static async Task<string> RequirePostgresAsync(CancellationToken cancellationToken)
    {
        var problem = await PostgresProblemAsync(cancellationToken);
        if (problem is not null)
        {
            await SetUpOnceAsync(cancellationToken);
            problem = await PostgresProblemAsync(cancellationToken);
        }

        if (problem is not null)
        {
            Assert.Skip($"PostgreSQL at '{Redact(Postgres)}' does not answer ({problem}); .ci/services.sh: {_setupResult}");
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

    /// <summary>Runs .ci/services.sh once per test run (unless OPENREPLICA_SERVICES_SETUP=0) and keeps what it said.</summary>
    private static async Task SetUpOnceAsync(CancellationToken cancellationToken)
    {
        await SetupLock.WaitAsync(cancellationToken);
        try
        {
            if (_setupResult is not null)
            {
                return;
            }

            if (Environment.GetEnvironmentVariable("OPENREPLICA_SERVICES_SETUP") == "0")
            {
                _setupResult = "not run (OPENREPLICA_SERVICES_SETUP=0)";
                return;
            }

            var script = RepositoryFile(".ci/services.sh");
            if (script is null || !File.Exists("/bin/bash"))
            {
                _setupResult = "not found or no bash";
                return;
            }

            var start = new ProcessStartInfo("/bin/bash", [script])
            {
                RedirectStandardOutput = true,
                RedirectStandardError = true,
                UseShellExecute = false,
            };
            using var process = Process.Start(start)!;
            var output = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var error = process.StandardError.ReadToEndAsync(cancellationToken);
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(TimeSpan.FromMinutes(4));
            try
            {
                await process.WaitForExitAsync(timeout.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                _setupResult = "timed out after 4 minutes";
                return;
            }

            string said = ((await output) + " " + (await error)).Trim().ReplaceLineEndings(" | ");
            _setupResult = $"exit {process.ExitCode}: {said}";
        }
        finally
        {
            SetupLock.Release();
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

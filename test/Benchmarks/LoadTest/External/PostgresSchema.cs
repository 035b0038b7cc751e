using Npgsql;

namespace OpenReplica.LoadTest.External;

/// <summary>
/// Creates the benchmark's database and login on a fresh server and loads Orleans' ADO.NET persistence schema into it
/// (the scripts are copied next to the tool: External/sql/).
/// </summary>
internal static class PostgresSchema
{
    public const string Database = "orleans";
    public const string Login = "orleans";

    private static readonly string[] Scripts = ["PostgreSQL-Main.sql", "PostgreSQL-Persistence.sql"];

    public static async Task CreateAsync(string adminConnectionString, string password, CancellationToken ct)
    {
        await using (var admin = new NpgsqlConnection(adminConnectionString))
        {
            await admin.OpenAsync(ct);
            // The password is hex, and DDL takes no parameters: formatting it in is safe.
            await ExecuteAsync(admin, $"CREATE ROLE {Login} LOGIN PASSWORD '{password}'", ct);
            await ExecuteAsync(admin, $"CREATE DATABASE {Database} OWNER {Login}", ct);
        }

        // Loaded as the login Orleans uses, so it owns the tables and the function.
        var builder = new NpgsqlConnectionStringBuilder(adminConnectionString) { Database = Database, Username = Login, Password = password };
        await using var orleans = new NpgsqlConnection(builder.ConnectionString);
        await orleans.OpenAsync(ct);
        foreach (var script in Scripts)
        {
            var path = Path.Combine(AppContext.BaseDirectory, "External", "sql", script);
            await ExecuteAsync(orleans, await File.ReadAllTextAsync(path, ct), ct);
        }
    }

    private static async Task ExecuteAsync(NpgsqlConnection connection, string sql, CancellationToken ct)
    {
        await using var command = new NpgsqlCommand(sql, connection);
        await command.ExecuteNonQueryAsync(ct);
    }
}

using OpenReplica.LoadTest.External;

namespace OpenReplica.LoadTest;

/// <summary>
/// The Redis and PostgreSQL servers behind scenario 2, started only if their scenario runs; a server that cannot
/// start leaves its scenario "not available" (with the reason) instead of failing the run.
/// </summary>
internal sealed class PersistenceStores : IAsyncDisposable
{
    private static readonly TimeSpan StartBound = TimeSpan.FromSeconds(90);
    private RedisServer? _redis;
    private PostgresServer? _postgres;

    public string? Redis => _redis?.ConnectionString;
    public string? Postgres => _postgres?.ConnectionString;

    public static async Task<PersistenceStores> StartAsync(Settings settings, RunReport report, string workDirectory, Action<string> status)
    {
        var stores = new PersistenceStores();
        if (settings.Runs(Scenario.Redis))
        {
            status("starting redis-server");
            stores._redis = await StartOrReportAsync(report, Scenario.Redis, ct => RedisServer.StartAsync(workDirectory, ct), r => r.Version);
        }
        if (settings.Runs(Scenario.Postgres))
        {
            status("starting PostgreSQL");
            stores._postgres = await StartOrReportAsync(report, Scenario.Postgres, ct => PostgresServer.StartAsync(workDirectory, ct), p => p.Version);
        }
        return stores;
    }

    /// <summary>Starts one external system within a bound; on failure records why its scenario is not available.</summary>
    public static async Task<T?> StartOrReportAsync<T>(RunReport report, Scenario scenario, Func<CancellationToken, Task<T>> start, Func<T, string> version)
        where T : class
    {
        using var bound = new CancellationTokenSource(StartBound);
        try
        {
            var system = await start(bound.Token).WaitAsync(StartBound + TimeSpan.FromSeconds(5));
            report.Versions.Add(version(system));
            return system;
        }
        catch (Exception e)
        {
            report.Unavailable[scenario] = $"{e.GetType().Name}: {e.Message.ReplaceLineEndings(" ")}";
            return null;
        }
    }

    public async ValueTask DisposeAsync()
    {
        if (_redis is not null) await _redis.DisposeAsync();
        if (_postgres is not null) await _postgres.DisposeAsync();
    }
}

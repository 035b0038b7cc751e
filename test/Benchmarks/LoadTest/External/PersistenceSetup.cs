using Orleans.Hosting;
using StackExchange.Redis;

namespace OpenReplica.LoadTest.External;

/// <summary>Registers the grain storage providers the persistent counter grains name.</summary>
public static class PersistenceSetup
{
    /// <summary>Provider of <see cref="RedisCounterGrain"/>: Microsoft.Orleans.Persistence.Redis.</summary>
    public const string RedisProvider = "benchmark-redis";

    /// <summary>Provider of <see cref="PostgresCounterGrain"/>: Microsoft.Orleans.Persistence.AdoNet over Npgsql.</summary>
    public const string PostgresProvider = "benchmark-postgres";

    /// <summary>
    /// Adds the Redis provider when <paramref name="redisConnectionString"/> is given and the PostgreSQL one when
    /// <paramref name="postgresConnectionString"/> is; a grain whose provider is missing fails to activate.
    /// </summary>
    public static ISiloBuilder AddBenchmarkPersistence(this ISiloBuilder builder, string? redisConnectionString, string? postgresConnectionString)
    {
        if (redisConnectionString is not null)
        {
            builder.AddRedisGrainStorage(RedisProvider, options => options.ConfigurationOptions = ConfigurationOptions.Parse(redisConnectionString));
        }

        if (postgresConnectionString is not null)
        {
            builder.AddAdoNetGrainStorage(PostgresProvider, options =>
            {
                options.Invariant = "Npgsql";
                options.ConnectionString = postgresConnectionString;
            });
        }

        return builder;
    }
}

namespace OpenReplica.LoadTest.External;

/// <summary>Grain class names for <c>GetGrain&lt;ICounterGrain&gt;(key, grainClassNamePrefix)</c>.</summary>
public static class ExternalGrainClasses
{
    public const string Redis = "OpenReplica.LoadTest.External.RedisCounterGrain";
    public const string Postgres = "OpenReplica.LoadTest.External.PostgresCounterGrain";
}

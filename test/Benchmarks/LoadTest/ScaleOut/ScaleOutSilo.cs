using System.CommandLine;
using Microsoft.Extensions.Hosting;

namespace OpenReplica.LoadTest.ScaleOut;

/// <summary>
/// The load tool's own option of the <c>silo</c> subcommand for the scale-out run: Orleans membership in Redis. With
/// localhost clustering the first silo holds the membership table, so it could not be replaced like the others.
/// </summary>
internal static class ScaleOutSilo
{
    public static readonly Option<string?> RedisMembership = new("--redis-membership") { Description = "Redis for Orleans membership (else localhost clustering)" };

    public static IReadOnlyList<Option> Options => [RedisMembership];

    public static void Configure(ParseResult parse, ISiloBuilder silo)
    {
        if (parse.GetValue(RedisMembership) is { } redis) silo.UseRedisClustering(redis);
    }
}

using System.CommandLine;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

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
        if (parse.GetValue(RedisMembership) is not { } redis) return;
        silo.UseRedisClustering(redis);
        // The scale-out run's silo logs also say why a move stopped, how each rebalance pass went (Information) and how
        // long each move's steps took, each activation's start and each campaign (Debug).
        silo.Services.AddLogging(l => l
            .AddFilter("OpenReplica.Orleans.Replication.Rebalancer", LogLevel.Debug)
            .AddFilter("OpenReplica.Orleans.Replication.Decommission", LogLevel.Information)
            .AddFilter("OpenReplica.Orleans.Replication.ConsensusCallReplicator", LogLevel.Debug)
            // How each campaign went (the only Debug lines of the replication runtime's groups).
            .AddFilter("OpenReplica.Orleans.Replication.ReplicationRuntime", LogLevel.Debug)
            // How long each part of Orleans' own start and stop took: after a graceful stop's hand-over, calls to the
            // grains whose directory entries the stopping silo held wait until it has exited (docs/placement.md).
            .AddFilter("Orleans.Runtime.SiloLifecycleSubject", LogLevel.Debug));
    }
}

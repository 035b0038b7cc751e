using System.Net;
using System.Net.NetworkInformation;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Orleans.Configuration;

namespace OpenReplica.Deploy;

/// <summary>Clustering for silos and clients from <see cref="DeploySettings"/>: the same code on both sides.</summary>
public static class Clustering
{
    /// <summary>The ADO.NET invariant Orleans maps to Npgsql's provider factory.</summary>
    public const string PostgresInvariant = "Npgsql";

    public static ISiloBuilder UseClustering(this ISiloBuilder silo, DeploySettings settings)
    {
        silo.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (settings.ClusterId, settings.ServiceId));
        var listen = settings.ListenAddress is { } l ? IPAddress.Parse(l) : null;
        switch (settings.Clustering)
        {
            case ClusteringKind.Localhost:
                silo.UseLocalhostClustering(
                    settings.SiloPort,
                    settings.GatewayPort,
                    new IPEndPoint(IPAddress.Loopback, settings.PrimarySiloPort),
                    settings.ServiceId,
                    settings.ClusterId);
                break;
            case ClusteringKind.Redis:
                silo.UseRedisClustering(settings.Redis!);
                ConfigureEndpoints();
                break;
            case ClusteringKind.Postgres:
                silo.UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = (PostgresInvariant, settings.Postgres!));
                ConfigureEndpoints();
                break;
        }

        if (listen is not null)
        {
            silo.Configure<EndpointOptions>(o =>
            {
                o.SiloListeningEndpoint = new IPEndPoint(listen, settings.SiloPort);
                o.GatewayListeningEndpoint = new IPEndPoint(listen, settings.GatewayPort);
            });
        }

        if (settings.SiloName is { Length: > 0 } name)
        {
            silo.Configure<SiloOptions>(o => o.SiloName = name);
        }

        if (settings.FastFailureDetection)
        {
            // About 3-5 s from a kill to a death declaration, yet tolerant of a loaded machine: three missed 1 s probes
            // and the votes of two silos (so one slow silo cannot evict another on its own).
            silo.Services.Configure<ClusterMembershipOptions>(o =>
            {
                o.ProbeTimeout = TimeSpan.FromSeconds(1);
                o.NumMissedProbesLimit = 3;
                o.NumVotesForDeathDeclaration = 2;
                o.TableRefreshTimeout = TimeSpan.FromSeconds(1);
                o.IAmAliveTablePublishTimeout = TimeSpan.FromSeconds(2);
            });
        }

        if (settings.DetectPauses)
        {
            // A stopped process keeps its sockets open: with these on, other silos keep vouching for it and it is
            // never declared dead, so the grains it leads stay unavailable for as long as the pause lasts.
            silo.Services.Configure<ClusterMembershipOptions>(o =>
            {
                o.EnableIndirectProbes = false;
                o.EnableConnectionLivenessCheck = false;
                o.ExtendProbeTimeoutDuringDegradation = false;
            });
        }

        return silo;

        void ConfigureEndpoints() => silo.ConfigureEndpoints(
            AdvertisedAddress(settings),
            settings.SiloPort,
            settings.GatewayPort,
            listenOnAnyHostAddress: listen is null);
    }

    /// <summary>
    /// A client of the same deployment: finds the gateways in the same membership store. Retries of replicated
    /// calls are added separately with <c>UseReplicatedGrains()</c>.
    /// </summary>
    public static IClientBuilder UseClustering(this IClientBuilder client, DeploySettings settings)
    {
        client.Configure<ClusterOptions>(o => (o.ClusterId, o.ServiceId) = (settings.ClusterId, settings.ServiceId));
        switch (settings.Clustering)
        {
            case ClusteringKind.Localhost:
                client.UseLocalhostClustering(settings.GatewayPort, settings.ServiceId, settings.ClusterId);
                break;
            case ClusteringKind.Redis:
                client.UseRedisClustering(settings.Redis!);
                break;
            case ClusteringKind.Postgres:
                client.UseAdoNetClustering(o => (o.Invariant, o.ConnectionString) = (PostgresInvariant, settings.Postgres!));
                break;
        }

        if (settings.FastFailureDetection)
        {
            client.Services.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromMilliseconds(500));
        }

        return client;
    }

    private static IPAddress AdvertisedAddress(DeploySettings settings)
    {
        if (settings.AdvertisedAddress is { } configured)
        {
            return IPAddress.Parse(configured);
        }

        return NetworkInterface.GetAllNetworkInterfaces()
            .Where(n => n.OperationalStatus == OperationalStatus.Up && n.NetworkInterfaceType != NetworkInterfaceType.Loopback)
            .SelectMany(n => n.GetIPProperties().UnicastAddresses)
            .Select(u => u.Address)
            .FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork && !IPAddress.IsLoopback(a))
            ?? IPAddress.Loopback;
    }
}

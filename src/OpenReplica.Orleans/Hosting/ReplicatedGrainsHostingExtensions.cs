using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;
using Orleans.Hosting;
using Orleans.Metadata;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>Registers replicated grains on silos and exactly-once stamping on clients.</summary>
public static class ReplicatedGrainsHostingExtensions
{
    /// <summary>
    /// Adds replicated grains to the silo: the replica-set placement director, the replica host grain service and its
    /// transport, the replication engine and the consensus call replicator, and the stamping filter for calls made
    /// from this silo.
    /// Options are validated at start-up.
    /// </summary>
    public static ISiloBuilder AddReplicatedGrains(this ISiloBuilder builder, Action<ReplicatedGrainsOptions>? configure = null)
    {
        builder.Services.AddReplicatedGrains(configure);
        builder.AddGrainService<ReplicaHost>();
        builder.AddGrainService<SiloStatusService>();
        return builder;
    }

    /// <summary>
    /// Stamps calls from this client to replicated grains with (client id, sequence, first unacknowledged) and
    /// retries them with the same stamp, with backoff, after any failure that leaves the outcome open, until
    /// <see cref="ReplicatedClientOptions.CallDeadline"/>; then <see cref="CallOutcomeUnknownException"/>. A call
    /// pending when a gateway connection closes is retried at once through a live gateway.
    /// </summary>
    public static IClientBuilder UseReplicatedGrains(this IClientBuilder builder, Action<ReplicatedClientOptions>? configure = null)
    {
        builder.Services.AddCallStamping(configure, client: true);
        return builder;
    }

    private static void AddReplicatedGrains(this IServiceCollection services, Action<ReplicatedGrainsOptions>? configure)
    {
        var options = services.AddOptions<ReplicatedGrainsOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        services.AddSingleton<IConfigurationValidator, ReplicatedGrainsOptionsValidator>();

        // Transient strategy: the runtime initializes one instance per grain type from that type's properties.
        services.AddPlacementDirector<ReplicatedPlacement, ReplicatedPlacementDirector>(ServiceLifetime.Transient);

        services.TryAddSingleton<ReplicaIdentity>();
        services.TryAddSingleton<DataDirectoryGuard>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<DataDirectoryGuard>());
        services.TryAddSingleton<ReturnNotice>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ReturnNotice>());
        services.TryAddSingleton<ReplicaHostClient>();
        services.TryAddSingleton<SiloStatusServiceClient>();
        services.TryAddSingleton(sp => new Diagnostics.ReplicationInstruments(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.TryAddSingleton(sp => new ReplicaTransport(
            sp.GetRequiredService<ReplicaHostClient>(),
            sp.GetRequiredService<ILocalSiloDetails>(),
            sp.GetRequiredService<IOptions<ReplicatedGrainsOptions>>(),
            sp.GetRequiredService<ILogger<ReplicaTransport>>(),
            sp.GetRequiredService<Diagnostics.ReplicationInstruments>(),
            sp.GetService<IOptions<global::Orleans.Configuration.SiloMessagingOptions>>()?.Value.MaxMessageBodySize ?? ReplicaTransport.DefaultMaxMessageBodySize));
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<ReplicaTransport>());

        services.TryAddSingleton(TimeProvider.System);

        // Consensus: the roster of replicas, the groups this silo holds replicas of, and the activation-side replicator.
        services.TryAddSingleton<Replication.ReplicaRoster>();
        services.TryAddSingleton<Replication.RosterGroup>();
        services.TryAddSingleton<Replication.EntryClock>(); // one per silo, shared by its activations
        services.TryAddSingleton<Replication.ReplicationRuntime>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Replication.ReplicationRuntime>());
        services.TryAddSingleton<ILocalReplicaHealth>(sp => sp.GetRequiredService<Replication.ReplicationRuntime>());
        // Scale-out: new groups' first configuration, the rebalancer, and the hand-over on a graceful stop.
        services.TryAddSingleton<Replication.GroupBirth>();
        services.TryAddSingleton<Replication.Rebalancer>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Replication.Rebalancer>());
        services.TryAddSingleton<Replication.Decommission>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<Replication.Decommission>());
        // A client connection whose traffic is lost is closed after GatewaySendTimeout, so answers take another gateway.
        services.AddOptions<global::Orleans.Configuration.SiloConnectionOptions>()
            .Configure<IOptions<ReplicatedGrainsOptions>, ILoggerFactory, IServiceProvider>((connections, replicated, loggers, sp) =>
            {
                if (replicated.Value.GatewaySendTimeout > TimeSpan.Zero)
                {
                    connections.ConfigureGatewayInboundConnection(builder => GatewaySendTimeout.Use(
                        builder, replicated.Value.GatewaySendTimeout, sp, loggers.CreateLogger(typeof(GatewaySendTimeout).FullName!)));
                }
            });
        services.TryAddSingleton<SiloWarmUp>();
        services.AddSingleton<ILifecycleParticipant<ISiloLifecycle>>(sp => sp.GetRequiredService<SiloWarmUp>());
        // Peers' messages pass the admission gate (membership, decoding, replica sets) before any replica sees them.
        services.TryAddSingleton<InboundAdmission>();
        services.TryAddSingleton<IReplicaMessageSink>(sp => sp.GetRequiredService<InboundAdmission>());
        services.TryAddSingleton<IReplicaSetLocator, Replication.RosterReplicaSetLocator>();
        services.AddMetrics();
        services.TryAddSingleton<Replication.DivergenceMonitor>();
        services.TryAddSingleton(sp =>
        {
            var budget = new Replication.LogMemoryBudget(sp.GetRequiredService<IOptions<ReplicatedGrainsOptions>>().Value.LogMemoryBudget);
            sp.GetRequiredService<Diagnostics.ReplicationInstruments>().ObserveLogMemory(
                sp.GetRequiredService<ILocalSiloDetails>().SiloAddress.ToString(), () => budget.HeldBytes);
            return budget;
        });
        services.TryAddSingleton<Replication.ConsensusCallReplicator>();
        services.TryAddSingleton<ICallReplicator>(sp => sp.GetRequiredService<Replication.ConsensusCallReplicator>());
        services.TryAddSingleton<ReplicatedGrainServices>();

        // Grain-to-grain calls get stamps from the silo's own session.
        services.AddCallStamping(configure: null, client: false);
    }

    private static void AddCallStamping(this IServiceCollection services, Action<ReplicatedClientOptions>? configure, bool client)
    {
        var options = services.AddOptions<ReplicatedClientOptions>();
        if (configure is not null)
        {
            options.Configure(configure);
        }

        if (services.Any(service => service.ServiceType == typeof(CallStampSource)))
        {
            return;
        }

        services.AddSingleton<IConfigurationValidator, ReplicatedClientOptionsValidator>();
        // Clients get the same meter as silos (retries, outcome-unknown failures) from the host's IMeterFactory.
        services.AddMetrics();
        services.TryAddSingleton(sp => new Diagnostics.ReplicationInstruments(sp.GetService<System.Diagnostics.Metrics.IMeterFactory>()));
        services.AddSingleton<CallStampSource>();
        services.AddSingleton<PendingReads>();
        services.AddSingleton(sp => new CallRetryPolicy(sp.GetRequiredService<IOptions<ReplicatedClientOptions>>().Value));
        if (client)
        {
            // Ends calls pending behind a lost gateway (see PendingCallBreaker for the Orleans internals it touches).
            services.AddSingleton(sp => PendingCallBreaker.Create(sp, sp.GetRequiredService<ILogger<PendingCallBreaker>>()));
            services.AddSingleton<IClusterConnectionStatusObserver, GatewayLossWatch>();
            // Finds gateways whose traffic is lost without their connection closing, and moves their calls elsewhere.
            services.AddSingleton<SilentGatewayWatch>();
            services.AddSingleton<ILifecycleParticipant<IClusterClientLifecycle>>(sp => sp.GetRequiredService<SilentGatewayWatch>());
        }
        else
        {
            // Silos: Orleans itself ends calls to a silo once membership declares it dead (SiloConnectionMaintainer).
            services.AddSingleton(_ => PendingCallBreaker.Off("silo: Orleans ends calls to silos declared dead"));
        }

        services.AddSingleton<IOutgoingGrainCallFilter>(sp => new StampingCallFilter(
            sp.GetRequiredService<CallStampSource>(),
            new ReplicatedGrainTypes(sp.GetRequiredService<IClusterManifestProvider>(), sp.GetRequiredService<GrainPropertiesResolver>()),
            sp.GetRequiredService<CallRetryPolicy>(),
            new Lazy<PendingCallBreaker>(sp.GetRequiredService<PendingCallBreaker>),
            sp.GetRequiredService<PendingReads>(),
            sp.GetRequiredService<Diagnostics.ReplicationInstruments>(),
            sp.GetRequiredService<ILogger<StampingCallFilter>>()));
    }
}

using Microsoft.Extensions.DependencyInjection;
using Orleans.Configuration;
using Orleans.Hosting;
using Orleans.Runtime;
using Orleans.TestingHost;

namespace OpenReplica.Orleans.Testing;

/// <summary>
/// An in-process Orleans cluster (TestingHost) with replicated grains, for your own tests:
/// <code>
/// await using var cluster = await ReplicatedTestCluster.StartAsync(o =&gt; o.Mode = ReplicationMode.Persisted);
/// await cluster.Client.GetGrain&lt;IAccount&gt;("alice").Deposit(10);
/// var dead = await cluster.KillSiloAsync(cluster.Silos[1]);   // abrupt; returns once membership declared it dead
/// await cluster.RestartSiloAsync(dead);                        // same name and data directory: the same replica
/// var added = await cluster.StartSiloAsync();                  // one more silo (a rolling deployment's new instance)
/// await cluster.StopSiloAsync(cluster.Silos[0]);               // graceful: hands its grains over first
/// </code>
/// Failure detection is fast (a killed silo is declared dead in about a second), the client retries stamped calls
/// quickly, and Persisted silos write to a temporary directory that <see cref="DisposeAsync"/> deletes.
/// </summary>
public sealed class ReplicatedTestCluster : IAsyncDisposable
{
    /// <summary>How long <see cref="KillSiloAsync"/> and <see cref="RestartSiloAsync"/> wait for membership to agree.</summary>
    public static readonly TimeSpan MembershipTimeout = TimeSpan.FromSeconds(30);

    private readonly List<InProcessSiloHandle> _restarted = [];

    private ReplicatedTestCluster(InProcessTestCluster cluster, string? dataRoot)
    {
        Cluster = cluster;
        DataRoot = dataRoot;
    }

    /// <summary>The underlying TestingHost cluster (silo service providers, grain contexts, more silos).</summary>
    public InProcessTestCluster Cluster { get; }

    /// <summary>The cluster's client (stamps and retries calls to replicated grains).</summary>
    public IClusterClient Client => Cluster.Client;

    /// <summary>The temporary directory holding each silo's data directory (Persisted mode), else null.</summary>
    public string? DataRoot { get; }

    /// <summary>Live silos: those the cluster started or added plus those restarted by <see cref="RestartSiloAsync"/>.</summary>
    public IReadOnlyList<InProcessSiloHandle> Silos
    {
        get
        {
            lock (_restarted) return [.. Cluster.Silos, .. _restarted];
        }
    }

    /// <summary>Starts the silos and the client; returns once the cluster accepts calls.</summary>
    public static async Task<ReplicatedTestCluster> StartAsync(Action<ReplicatedTestClusterOptions>? configure = null)
    {
        var options = new ReplicatedTestClusterOptions();
        configure?.Invoke(options);
        options.Validate();
        string? root = options.Mode == ReplicationMode.Persisted
            ? Path.Combine(Path.GetTempPath(), "openreplica-testcluster", Guid.NewGuid().ToString("N"))
            : null;
        var builder = new InProcessTestClusterBuilder((short)options.Silos);
        builder.ConfigureSilo((siloOptions, silo) =>
        {
            silo.AddReplicatedGrains(o =>
            {
                o.ReplicationFactor = options.ReplicationFactor;
                o.Mode = options.Mode;
                o.DataDirectory = root is null ? null : Path.Combine(root, siloOptions.SiloName);
                o.CallTimeout = options.CallTimeout;
                options.ConfigureReplication?.Invoke(o);
            });
            UseFastFailureDetection(silo.Services);
            options.ConfigureSilo?.Invoke(silo);
        });
        builder.ConfigureClient(client =>
        {
            client.UseReplicatedGrains(o =>
            {
                o.MaxRetries = 40;
                o.InitialBackoff = TimeSpan.FromMilliseconds(20);
                o.MaxBackoff = TimeSpan.FromMilliseconds(250);
            });
            client.Services.Configure<GatewayOptions>(o => o.GatewayListRefreshPeriod = TimeSpan.FromMilliseconds(500));
            // A call in flight through a gateway that dies waits this long before the client retries it (with its stamp).
            client.Services.Configure<ClientMessagingOptions>(o => o.ResponseTimeout = options.CallTimeout + TimeSpan.FromSeconds(2));
            options.ConfigureClient?.Invoke(client);
        });
        var cluster = builder.Build();
        try
        {
            await cluster.DeployAsync();
        }
        catch
        {
            await cluster.DisposeAsync();
            DeleteQuietly(root);
            throw;
        }
        return new ReplicatedTestCluster(cluster, root);
    }

    /// <summary>
    /// Membership settings under which a killed silo is declared dead in a second or two (two missed 500 ms probes,
    /// one vote), yet a silo starting on a loaded test machine is not refused for a slow first probe. For tests only:
    /// on a real network these would declare healthy silos dead.
    /// </summary>
    public static void UseFastFailureDetection(IServiceCollection services) =>
        services.Configure<ClusterMembershipOptions>(o =>
        {
            o.ProbeTimeout = TimeSpan.FromMilliseconds(500);
            o.NumMissedProbesLimit = 2;
            o.NumVotesForDeathDeclaration = 1;
            o.EnableIndirectProbes = false;
            o.ExtendProbeTimeoutDuringDegradation = false;
            o.TableRefreshTimeout = TimeSpan.FromMilliseconds(200);
            o.IAmAliveTablePublishTimeout = TimeSpan.FromMilliseconds(500);
        });

    /// <summary>A service from the silo's container (for example your own singletons).</summary>
    public T Service<T>(InProcessSiloHandle silo)
        where T : notnull => silo.SiloHost.Services.GetRequiredService<T>();

    /// <summary>
    /// Kills a silo abruptly (no graceful shutdown, like a crash) and returns once membership declared it dead. The
    /// returned handle can be given to <see cref="RestartSiloAsync"/>.
    /// </summary>
    public async Task<InProcessSiloHandle> KillSiloAsync(InProcessSiloHandle silo)
    {
        await StopAsync(silo, gracefully: false);

        var management = Client.GetGrain<IManagementGrain>(0);
        await WaitUntilAsync(async () => !(await management.GetHosts(onlyActive: true)).ContainsKey(silo.SiloAddress),
            $"silo {silo.SiloAddress} declared dead");
        return silo;
    }

    /// <summary>
    /// Starts a killed or gracefully stopped silo again under its name, so with its data directory (Persisted mode: the
    /// same replica, its WAL and roster), and returns once every live silo sees it in the cluster status. A silo that
    /// left the roster when it stopped is a spare again and is taken back in after <c>RosterSettlingPeriod</c>. With
    /// leader leases on, a silo restarted with its data completes its start one <c>LeaseDuration</c> after it began
    /// (its replicas promise nobody until then), so this returns about that much later.
    /// </summary>
    public async Task<InProcessSiloHandle> RestartSiloAsync(InProcessSiloHandle dead)
    {
        var handle = await Cluster.StartSiloAsync(dead.InstanceNumber, Cluster.Options);
        lock (_restarted) _restarted.Add(handle);
        string address = handle.SiloAddress.ToString();
        await WaitForStatusAsync(status => status.Silos.Any(s => s.Silo == address), $"restarted silo {handle.Name} answers the cluster status");
        return handle;
    }

    /// <summary>
    /// Starts one more silo under a new name (Persisted mode: a new, empty data directory), as scaling out or a rolling
    /// deployment's new instance does, and returns once it is a member of the replica roster (or, while the roster has
    /// not formed yet because fewer than <c>ReplicationFactor</c> silos were started, once it answers the status) (after
    /// <c>RosterSettlingPeriod</c>, 10 s by default: lower it in <see cref="ReplicatedTestClusterOptions.ConfigureReplication"/>
    /// for faster tests), so a silo stopped next has a successor. The rebalancers then move to it, in the background,
    /// the grains' groups that placement gives it.
    /// </summary>
    public async Task<InProcessSiloHandle> StartSiloAsync()
    {
        var handle = await Cluster.StartAdditionalSiloAsync();
        string address = handle.SiloAddress.ToString();
        // Before the roster has formed (fewer silos than ReplicationFactor started so far) there is nothing to join: the
        // roster forms from the first silos once enough are active, so waiting for membership here waited for good.
        await WaitForStatusAsync(
            status => status.RosterVersion < 0 ? status.Silos.Any(s => s.Silo == address) : status.Roster.Any(m => m.Silo == address && m.Live),
            $"new silo {handle.Name} joins the replica roster");
        return handle;
    }

    /// <summary>
    /// Stops a silo gracefully, as a planned shutdown or a rolling deployment does: it first hands its grains' groups
    /// and activations over to other silos (at most <c>DecommissionTimeout</c>), so its grains' callers see no failover
    /// gap, then Orleans stops it. Returns once it has stopped. Its replica has left the roster if another silo could
    /// take its place (else it stays a member, as after a failure): replace it with <see cref="StartSiloAsync"/>, or
    /// restart it with <see cref="RestartSiloAsync"/> (a rolling restart).
    /// </summary>
    public Task StopSiloAsync(InProcessSiloHandle silo) => StopAsync(silo, gracefully: true);

    /// <summary>A silo restarted here is ours to stop and dispose; the others belong to the TestingHost cluster.</summary>
    private async Task StopAsync(InProcessSiloHandle silo, bool gracefully)
    {
        bool own;
        lock (_restarted) own = _restarted.Remove(silo);
        if (own)
        {
            await silo.StopSiloAsync(stopGracefully: gracefully);
            await silo.DisposeAsync();
        }
        else if (gracefully)
        {
            await Cluster.StopSiloAsync(silo);
        }
        else
        {
            await Cluster.KillSiloAsync(silo);
        }
    }

    /// <summary>Waits until the cluster status, with every live silo answering, meets <paramref name="condition"/>.</summary>
    private Task WaitForStatusAsync(Func<ReplicatedClusterStatus, bool> condition, string what) => WaitUntilAsync(async () =>
    {
        var status = await Client.GetReplicatedClusterStatusAsync();
        return condition(status) && status.Unreachable.Length == 0;
    }, what);

    /// <summary>Stops the client and every silo, and deletes the data directories.</summary>
    public async ValueTask DisposeAsync()
    {
        List<InProcessSiloHandle> restarted;
        lock (_restarted)
        {
            restarted = [.. _restarted];
            _restarted.Clear();
        }
        foreach (var silo in restarted)
        {
            await silo.StopSiloAsync(stopGracefully: false);
            await silo.DisposeAsync();
        }
        await Cluster.DisposeAsync();
        DeleteQuietly(DataRoot);
    }

    private static readonly TimeSpan AskTimeout = TimeSpan.FromSeconds(3);

    private static async Task WaitUntilAsync(Func<Task<bool>> condition, string what)
    {
        var deadline = DateTime.UtcNow + MembershipTimeout;
        Exception? last = null;
        while (true)
        {
            try
            {
                // Each ask is bounded: a call pending on the connection to a gateway that just died (or to the
                // management grain's dead silo) waits for the client's whole ResponseTimeout, which once outlasted
                // the deadline; the next ask goes through a live gateway.
                if (await condition().WaitAsync(AskTimeout)) return;
                last = null;
            }
            catch (Exception e)
            {
                last = e; // the cluster is still settling (the gateway died, the silo is starting): ask again
            }
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"Timed out after {MembershipTimeout.TotalSeconds:0} s waiting for: {what}.", last);
            await Task.Delay(50);
        }
    }

    private static void DeleteQuietly(string? directory)
    {
        if (directory is null || !Directory.Exists(directory)) return;
        try
        {
            Directory.Delete(directory, recursive: true);
        }
        catch (IOException)
        {
            // A file still held open by a silo that is shutting down: the temp directory is cleaned by the OS later.
        }
        catch (UnauthorizedAccessException)
        {
        }
    }
}

using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;
using OpenReplica.Orleans;
using Orleans.Configuration;
using Orleans.Runtime;

namespace OpenReplica.Deploy.Tests;

/// <summary>
/// Mutual TLS in samples/Deploy (--tls-cert): three silo processes with one self-signed certificate serve replicated
/// calls to a client holding it; a client without TLS, a client with another self-signed certificate and a silo with
/// another certificate are all refused at the handshake, and the cluster keeps serving. Localhost clustering: no
/// external store needed.
/// </summary>
public sealed class TlsTests
{
    private const string Password = "test-only-password";
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(80);
    private static readonly TimeSpan RefusalLimit = TimeSpan.FromSeconds(20);

    [Fact(Timeout = 90_000)]
    public async Task Tls_cluster_serves_a_client_with_the_certificate_and_refuses_clients_and_silos_without_it()
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        budget.CancelAfter(Budget);
        var output = TestContext.Current.TestOutputHelper;
        var clock = Stopwatch.StartNew();
        void Say(string what) => output?.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1}s {what}");

        await using var cluster = SiloProcessCluster.Create(ClusteringKind.Localhost, "", _ => Task.CompletedTask);
        string ours = Path.Combine(cluster.Root, "cluster.pfx");
        string theirs = Path.Combine(cluster.Root, "other.pfx");
        Tls.WriteSelfSigned(ours, Password);
        Tls.WriteSelfSigned(theirs, Password); // same subject name, different key: only the certificate itself is trusted
        (cluster.Settings.TlsCertificate, cluster.Settings.TlsPassword) = (ours, Password);

        try
        {
            await cluster.StartSiloAsync(1, budget.Token, "--tls-cert", ours);
            await Task.WhenAll(cluster.StartSiloAsync(2, budget.Token, "--tls-cert", ours), cluster.StartSiloAsync(3, budget.Token, "--tls-cert", ours));
            Say("3 TLS silo processes ready");
            await cluster.StartClientAsync(budget.Token);
            var counter = cluster.Client.GetGrain<ICounterGrain>("tls-counter");
            for (int n = 1; n <= 5; n++)
            {
                Assert.Equal(n, await counter.Add(1).WaitAsync(budget.Token));
            }

            Say($"TLS client: 5 replicated writes, counter on {(await counter.WhereAmI()).Name}");

            // All three refusals at once (the machine is shared; each one waits at most RefusalLimit).
            var plainCall = CallAsync(cluster.Settings, certificate: null, budget.Token);
            var strangerCall = CallAsync(cluster.Settings, theirs, budget.Token);
            var strangerSilo = JoinAsync(cluster, theirs, budget.Token);
            await Task.WhenAll(plainCall, strangerCall, strangerSilo);
            Say($"client without TLS refused: {Describe(plainCall.Result)}");
            Say($"client with another certificate refused: {Describe(strangerCall.Result)}");
            Say($"silo with another certificate did not join: {Describe(strangerSilo.Result)}");
            Assert.NotNull(plainCall.Result);
            Assert.NotNull(strangerCall.Result);
            Assert.NotNull(strangerSilo.Result);
            string silo4 = cluster.Logs(200).Split("--- silo-4 ---")[1];
            Assert.Contains("The remote certificate was rejected", silo4); // refused at the handshake, not merely slow

            var hosts = await cluster.Client.GetGrain<IManagementGrain>(0).GetDetailedHosts(true, budget.Token);
            Assert.Equal(["silo-1", "silo-2", "silo-3"], hosts.Select(h => h.SiloName).Order());
            Assert.Equal(6, await counter.Add(1).WaitAsync(budget.Token));
            Say("membership still silo-1..3 and the TLS client still writes");
        }
        catch (Exception) when (DumpLogs(cluster))
        {
            throw;
        }
    }

    /// <summary>A silo with the wrong certificate cannot reach the primary's membership table, so it never becomes ready.</summary>
    private static async Task<Exception?> JoinAsync(SiloProcessCluster cluster, string certificate, CancellationToken cancellationToken)
    {
        using var refusal = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        refusal.CancelAfter(RefusalLimit);
        return await Record.ExceptionAsync(() => cluster.StartSiloAsync(4, refusal.Token, "--tls-cert", certificate));
    }

    /// <summary>A client of the same deployment with <paramref name="certificate"/> (null: no TLS) tries one call; the error, or null if it worked.</summary>
    private static async Task<Exception?> CallAsync(DeploySettings cluster, string? certificate, CancellationToken cancellationToken)
    {
        var settings = new DeploySettings
        {
            Clustering = cluster.Clustering,
            ClusterId = cluster.ClusterId,
            ServiceId = cluster.ServiceId,
            GatewayPort = cluster.GatewayPort,
            TlsCertificate = certificate,
            TlsPassword = certificate is null ? null : Password,
        };
        var builder = Host.CreateApplicationBuilder(new HostApplicationBuilderSettings { DisableDefaults = true });
        builder.Logging.SetMinimumLevel(LogLevel.Critical);
        // Plain Orleans calls with a short response timeout: a refused connection shows up as Orleans' own error.
        builder.UseOrleansClient(client => client.UseClustering(settings).UseDeploymentTls(settings)
            .Configure<ClientMessagingOptions>(o => o.ResponseTimeout = TimeSpan.FromSeconds(5)));
        using var host = builder.Build();
        using var limit = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        limit.CancelAfter(RefusalLimit);
        string stage = "start";
        try
        {
            await host.StartAsync(limit.Token);
            stage = "call";
            await host.Services.GetRequiredService<IClusterClient>().GetGrain<ICounterGrain>("tls-counter").Add(1).WaitAsync(limit.Token);
            return null;
        }
        catch (Exception e) when (!cancellationToken.IsCancellationRequested)
        {
            return new InvalidOperationException($"{stage} failed", e);
        }
        finally
        {
            using var stop = new CancellationTokenSource(TimeSpan.FromSeconds(5));
            await Record.ExceptionAsync(() => host.StopAsync(stop.Token));
        }
    }

    private static string Describe(Exception? e) =>
        e is null ? "NOT REFUSED" : $"{e.Message}: {e.InnerException?.GetType().Name ?? e.GetType().Name}: {(e.InnerException ?? e).Message.Split('\n')[0]}";

    private static bool DumpLogs(SiloProcessCluster cluster)
    {
        TestContext.Current.TestOutputHelper?.WriteLine(cluster.Logs());
        return false;
    }
}

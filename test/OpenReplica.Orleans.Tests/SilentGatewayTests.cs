using System.IO.Pipelines;
using System.Net.Sockets;
using Microsoft.Extensions.DependencyInjection;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// The parts that move a client's calls off a silent gateway (a connection whose traffic is lost without closing),
/// against this Orleans version: the client's probe, gateway avoidance and watch bind and work, a silo's gateway-client
/// seam binds, and a gateway connection's failure is seen for what it is. The cut itself (iptables dropping a gateway's
/// packets under load) is <c>GatewaySilenceTests</c> in test/OpenReplica.Deploy.Tests, on silo processes.
/// </summary>
[Collection(FaultCollection.Name)]
public sealed class SilentGatewayTests
{
    [Fact]
    public async Task A_read_that_ends_with_a_timed_out_socket_is_reported_and_passed_on_unchanged()
    {
        var pipe = new Pipe();
        Exception? seen = null;
        var observed = new FailureObservingPipe(new DuplexPipe(pipe.Reader, new Pipe().Writer), failure => seen = failure);

        await pipe.Writer.WriteAsync(new byte[] { 1, 2, 3 }, TestContext.Current.CancellationToken);
        var first = await observed.Input.ReadAsync(TestContext.Current.CancellationToken);
        Assert.Equal(3, first.Buffer.Length);
        observed.Input.AdvanceTo(first.Buffer.End);
        Assert.Null(seen);

        var timedOut = new SocketException((int)SocketError.TimedOut);
        var read = observed.Input.ReadAsync(TestContext.Current.CancellationToken); // waits for data, then fails
        await pipe.Writer.CompleteAsync(timedOut);
        var thrown = await Assert.ThrowsAsync<SocketException>(async () => await read);
        Assert.Same(timedOut, thrown);
        Assert.Same(timedOut, seen);
        Assert.True(GatewaySendTimeout.IsTimeout(seen!));
    }

    [Fact]
    public void Only_a_timed_out_or_broken_pipe_socket_counts_as_lost_traffic_also_when_wrapped()
    {
        Assert.True(GatewaySendTimeout.IsTimeout(new IOException("read failed", new SocketException((int)SocketError.TimedOut))));
        // What the input saw when Orleans' send loop took the ETIMEDOUT first (the CI run of session 39).
        Assert.True(GatewaySendTimeout.IsTimeout(new Microsoft.AspNetCore.Connections.ConnectionResetException("Broken pipe", new SocketException((int)SocketError.Shutdown))));
        Assert.False(GatewaySendTimeout.IsTimeout(new SocketException((int)SocketError.ConnectionReset)));
        Assert.False(GatewaySendTimeout.IsTimeout(new ObjectDisposedException("socket")));
    }

    [Fact]
    public async Task The_client_probes_each_gateway_through_its_own_connection_and_every_seam_binds()
    {
        await using var cluster = await FaultCluster.StartAsync(silos: 3);
        var client = cluster.Client.ServiceProvider;

        var watch = client.GetRequiredService<SilentGatewayWatch>();
        Assert.Null(watch.DisabledReason);
        Assert.Null(GatewayAvoidance.Create(client).DisabledReason);
        var probe = GatewayProbe.Create(client.GetRequiredService<IGrainFactory>());
        Assert.Null(probe.DisabledReason);

        foreach (var silo in cluster.Silos)
        {
            // The gateway as the client lists it (generation 0): the probe goes to that gateway's own silo.
            var details = cluster.Service<ILocalSiloDetails>(silo);
            var gateway = SiloAddress.New(details.GatewayAddress!.Endpoint, 0);
            Assert.True(await probe.AnswersAsync(gateway, TimeSpan.FromSeconds(10)), $"gateway {gateway} did not answer its probe");

            Assert.Null(GatewayClients.Create(silo.SiloHost.Services).DisabledReason);
        }

        // Nothing was silent, and calls went on normally.
        Assert.Equal(42, await cluster.Client.GetGrain<ICounterGrain>("probed").Add(42));
        Assert.Equal(0, watch.Silenced);
    }

    private sealed class DuplexPipe(PipeReader input, PipeWriter output) : IDuplexPipe
    {
        public PipeReader Input { get; } = input;

        public PipeWriter Output { get; } = output;
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;

namespace OpenReplica.Deploy.Tests;

/// <summary>
/// The client-failover promise when the silos are fine but the client cannot reach them: three silo processes
/// (localhost clustering, Persisted), writers in this process, and every gateway made to reset the client's
/// connections (iptables on loopback) for a few seconds. Calls in flight lose their connection and new calls find no
/// gateway; each must wait and retry with its stamp, so no caller sees an error and every acknowledged write is
/// applied exactly once.
/// </summary>
public sealed class GatewayRefusalTests
{
    private const int Writers = 4;
    private static readonly TimeSpan Refused = TimeSpan.FromSeconds(4);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(110);

    [Fact(Timeout = 120_000)]
    public async Task Writers_see_no_error_and_lose_nothing_while_every_gateway_refuses_connections_for_a_few_seconds()
    {
        Assert.SkipWhen(GatewayBlock.Unavailable is not null, GatewayBlock.Unavailable ?? "");
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        budget.CancelAfter(Budget);
        var output = TestContext.Current.TestOutputHelper;
        var clock = Stopwatch.StartNew();
        void Say(string what) => output?.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1}s {what}");

        await using var cluster = SiloProcessCluster.Create(ClusteringKind.Localhost, "", _ => Task.CompletedTask);
        try
        {
            await cluster.StartSiloAsync(1, budget.Token); // the primary first: its ports become the cluster's
            await cluster.StartSilosAsync([2, 3], budget.Token);
            await cluster.StartClientAsync(budget.Token);
            Say("3 silo processes and the client ready");

            var counters = Enumerable.Range(0, Writers).Select(i => cluster.Client.GetGrain<ICounterGrain>($"refused-{i}")).ToArray();
            var acknowledged = new long[Writers];
            var errors = new ConcurrentQueue<string>();
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, Writers).Select(i => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    try
                    {
                        long value = await counters[i].Add(1);
                        if (value != acknowledged[i] + 1) errors.Enqueue($"refused-{i}: write {acknowledged[i] + 1} returned {value}");
                        Interlocked.Increment(ref acknowledged[i]);
                    }
                    catch (Exception e)
                    {
                        errors.Enqueue($"refused-{i}: {e.GetType().Name}: {e.Message}");
                        return; // that write's outcome is unknown: the sequence check would no longer hold
                    }
                }
            })).ToArray();

            await Eventually.UntilAsync(() => acknowledged.All(a => a >= 5), "every writer has acknowledged writes", budget.Token);
            long atBlock;
            using (var block = new GatewayBlock())
            {
                block.Refuse(cluster.GatewayPorts);
                atBlock = acknowledged.Sum();
                Say($"every gateway resets connections ({atBlock} writes acknowledged)");
                await Task.Delay(Refused, budget.Token);
                long during = acknowledged.Sum() - atBlock;
                Assert.True(during <= Writers, $"{during} writes were acknowledged while every gateway refused connections: the fault was not injected");
                Assert.True(errors.IsEmpty, "a writer saw an error while the gateways refused: " + string.Join(" | ", errors.Take(3)));
            }

            long atHeal = acknowledged.Sum();
            Say($"gateways accept again ({atHeal} acknowledged)");
            await Eventually.UntilAsync(() => acknowledged.Sum() > atHeal + 40 || !errors.IsEmpty, "writers make progress after the heal", budget.Token);
            stop.Cancel();
            await Task.WhenAll(writers).WaitAsync(budget.Token);
            Say($"writers stopped: {string.Join(", ", acknowledged)} acknowledged");

            Assert.True(errors.IsEmpty, string.Join(" | ", errors.Take(5)));
            for (int i = 0; i < Writers; i++)
            {
                var state = await counters[i].Get().WaitAsync(budget.Token);
                Assert.True(state.Value == acknowledged[i] && state.Adds == acknowledged[i],
                    $"refused-{i}: {acknowledged[i]} writes acknowledged, final value {state.Value} after {state.Adds} applied adds");
            }
        }
        catch (Exception)
        {
            output?.WriteLine(cluster.Logs());
            throw;
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;

namespace OpenReplica.Deploy.Tests;

/// <summary>
/// The client-failover promise when one gateway goes silent: three silo processes (Redis membership, Persisted), a
/// client in this process with the library's defaults (Orleans' 30 s ResponseTimeout untouched), and one silo's
/// gateway cut off from the client by a network that drops every packet (iptables DROP on loopback) for longer than
/// that timeout. Nothing tells the client: its connection stays open, the silo stays alive and in membership (its
/// silo-to-silo links are untouched), and the gateway stays in the gateway list. Calls routed through that gateway must
/// still be answered within a few seconds, through another gateway, with no error and nothing applied twice.
/// </summary>
public sealed class GatewaySilenceTests
{
    private const int Writers = 12;
    private static readonly TimeSpan Silenced = TimeSpan.FromSeconds(25);
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(170);

    /// <summary>
    /// The longest a call may take while the gateway is silent. The client notices the silence (a call pending 2 s, then
    /// a probe of the gateway unanswered for 2 s) and retries through another gateway; the silent gateway's silo closes
    /// its connection to the client once its answers stay unacknowledged for GatewaySendTimeout (10 s), after which its
    /// activations' answers take another gateway; the rest is margin for a loaded machine. Without either, such calls
    /// wait for the whole cut and TCP's retransmissions after it.
    /// </summary>
    private static readonly TimeSpan LongestCall = TimeSpan.FromSeconds(20);

    [Fact(Timeout = 180_000)]
    public async Task Calls_through_a_gateway_whose_traffic_is_dropped_are_answered_through_another_gateway_within_seconds()
    {
        Assert.SkipWhen(GatewayBlock.Unavailable is not null, GatewayBlock.Unavailable ?? "");
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        budget.CancelAfter(Budget);
        string redis = await Services.RequireRedisAsync(budget.Token);
        var output = TestContext.Current.TestOutputHelper;
        var clock = Stopwatch.StartNew();
        void Say(string what) => output?.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1}s {what}");

        await using var cluster = SiloProcessCluster.Create(
            ClusteringKind.Redis, redis, s => Services.ForgetRedisClusterAsync(s.ServiceId, s.ClusterId));
        try
        {
            await cluster.StartSilosAsync([1, 2, 3], budget.Token);
            await cluster.StartClientAsync(budget.Token);
            Say("3 silo processes (Redis membership) and the client ready");

            // Distinct grains fill distinct buckets of the client, and Orleans hands new buckets to the gateways in turn:
            // about a third of the writers send through the gateway that goes silent.
            var counters = Enumerable.Range(0, Writers).Select(i => cluster.Client.GetGrain<ICounterGrain>($"silent-{i}")).ToArray();
            var acknowledged = new long[Writers];
            var calls = Enumerable.Range(0, Writers).Select(_ => new ConcurrentQueue<(TimeSpan Start, TimeSpan End)>()).ToArray();
            var errors = new ConcurrentQueue<string>();
            using var stop = new CancellationTokenSource();
            var writers = Enumerable.Range(0, Writers).Select(i => Task.Run(async () =>
            {
                while (!stop.IsCancellationRequested)
                {
                    var start = clock.Elapsed;
                    try
                    {
                        // A read, then a write: a read carries no stamp in its message, and must be retried as early.
                        var read = await counters[i].Get();
                        if (read.Value != acknowledged[i]) errors.Enqueue($"silent-{i}: read {read.Value} after {acknowledged[i]} acknowledged writes");
                        long value = await counters[i].Add(1);
                        if (value != acknowledged[i] + 1) errors.Enqueue($"silent-{i}: write {acknowledged[i] + 1} returned {value}");
                        Interlocked.Increment(ref acknowledged[i]);
                        calls[i].Enqueue((start, clock.Elapsed));
                    }
                    catch (Exception e)
                    {
                        errors.Enqueue($"silent-{i}: {e.GetType().Name}: {e.Message}");
                        return; // that write's outcome is unknown: the sequence check would no longer hold
                    }
                }
            })).ToArray();

            await Eventually.UntilAsync(() => acknowledged.All(a => a >= 5) || !errors.IsEmpty, "every writer has acknowledged writes", budget.Token);
            TimeSpan cutAt, healedAt;
            using (var block = new GatewayBlock())
            {
                block.Silence([cluster.GatewayPortOf(2)]);
                cutAt = clock.Elapsed;
                Say($"silo 2's gateway drops the client's traffic ({acknowledged.Sum()} writes acknowledged)");
                await Task.Delay(Silenced, budget.Token);
                healedAt = clock.Elapsed;
                block.Heal();
            }

            Say($"silo 2's gateway reachable again ({acknowledged.Sum()} acknowledged)");
            long atHeal = acknowledged.Sum();
            await Eventually.UntilAsync(() => acknowledged.Sum() > atHeal + 100 || !errors.IsEmpty, "writers make progress after the heal", budget.Token);
            stop.Cancel();
            await Task.WhenAll(writers).WaitAsync(budget.Token);
            Say($"writers stopped: {string.Join(", ", acknowledged)} acknowledged");

            Assert.True(errors.IsEmpty, string.Join(" | ", errors.Take(5)));
            // The cut hit: some writer's call was held up by it (the calls through that gateway until the client noticed).
            var during = calls.Select(c => c.Where(x => x.End > cutAt && x.Start < healedAt).ToList()).ToList();
            var longest = during.Select(c => c.Count == 0 ? TimeSpan.Zero : c.Max(x => x.End - x.Start)).ToList();
            Say($"longest call per writer during the cut: {string.Join(", ", longest.Select(l => $"{l.TotalSeconds:F1}s"))}");
            Assert.True(longest.Max() > TimeSpan.FromSeconds(1.5), "no call was held up by the silent gateway: the fault did not reach the client");
            // Every writer went on during the cut, and no call waited for the whole of it.
            for (int i = 0; i < Writers; i++)
            {
                Assert.True(longest[i] <= LongestCall, $"silent-{i}: a call took {longest[i].TotalSeconds:F1} s while a gateway was silent (at most {LongestCall.TotalSeconds} s)");
                Assert.True(calls[i].Any(x => x.Start > cutAt + LongestCall && x.End < healedAt),
                    $"silent-{i}: no call was answered in the second half of the cut");
            }
            for (int i = 0; i < Writers; i++)
            {
                var state = await counters[i].Get().WaitAsync(budget.Token);
                Assert.True(state.Value == acknowledged[i] && state.Adds == acknowledged[i],
                    $"silent-{i}: {acknowledged[i]} writes acknowledged, final value {state.Value} after {state.Adds} applied adds");
            }
        }
        catch (Exception)
        {
            output?.WriteLine(cluster.Logs());
            throw;
        }
    }
}

using System.Collections.Concurrent;
using System.Diagnostics;


namespace OpenReplica.Deploy.Tests;

/// <summary>
/// The deployment of samples/Deploy against real membership stores: three silo processes (Persisted mode) and a client
/// in this process find each other through Redis or PostgreSQL; writes go on while the process hosting a grain's
/// activation is killed; every acknowledged write must be in the final state, none applied twice.
/// </summary>
public sealed class ClusteringFailoverTests
{
    private const int Grains = 4;
    private const int WritesBeforeKill = 10;
    private const int WritesPerGrain = 30;
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(110);

    [Fact(Timeout = 120_000)]
    public async Task Redis_clustering_three_silo_processes_lose_no_acknowledged_write_when_one_is_killed()
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        budget.CancelAfter(Budget);
        string redis = await Services.RequireRedisAsync(budget.Token);
        await using var cluster = SiloProcessCluster.Create(
            ClusteringKind.Redis, redis, s => Services.ForgetRedisClusterAsync(s.ServiceId, s.ClusterId));
        await RunAsync(cluster, budget.Token);
    }

    [Fact(Timeout = 120_000)]
    public async Task Postgres_clustering_three_silo_processes_lose_no_acknowledged_write_when_one_is_killed()
    {
        using var budget = CancellationTokenSource.CreateLinkedTokenSource(TestContext.Current.CancellationToken);
        budget.CancelAfter(Budget);
        string postgres = await Services.RequirePostgresAsync(budget.Token);
        await using var cluster = SiloProcessCluster.Create(
            ClusteringKind.Postgres, postgres, s => Services.ForgetPostgresClusterAsync(s.ClusterId));
        await RunAsync(cluster, budget.Token);
    }

    private static async Task RunAsync(SiloProcessCluster cluster, CancellationToken cancellationToken)
    {
        var output = TestContext.Current.TestOutputHelper;
        var clock = Stopwatch.StartNew();
        void Say(string what) => output?.WriteLine($"{clock.Elapsed.TotalSeconds,6:F1}s {what}");
        try
        {
            await cluster.StartSilosAsync([1, 2, 3], cancellationToken);
            Say($"3 silo processes ready ({cluster.Settings.Clustering}, cluster id {cluster.Settings.ClusterId})");
            await cluster.StartClientAsync(cancellationToken);
            Say("client connected");

            var counters = Enumerable.Range(0, Grains).Select(i => cluster.Client.GetGrain<ICounterGrain>($"counter-{i}")).ToArray();
            var acknowledged = new long[Grains];
            var errors = new ConcurrentQueue<string>();
            int reachedKillPoint = 0;
            var killPoint = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);

            // Each grain gets a sequential writer: Add(1) returns the new value, which must be exactly one more than the
            // last acknowledged one (a lost write or one applied twice would break the sequence).
            var writers = Enumerable.Range(0, Grains).Select(i => Task.Run(async () =>
            {
                for (int n = 1; n <= WritesPerGrain; n++)
                {
                    long value = await counters[i].Add(1).WaitAsync(cancellationToken);
                    if (value != n)
                    {
                        errors.Enqueue($"counter-{i}: write {n} returned {value}");
                    }

                    acknowledged[i] = n;
                    if (n == WritesBeforeKill && Interlocked.Increment(ref reachedKillPoint) == Grains)
                    {
                        killPoint.SetResult();
                    }
                }
            }, cancellationToken)).ToArray();

            var all = Task.WhenAll(writers);
            await Task.WhenAny(killPoint.Task, all).WaitAsync(cancellationToken);
            if (all.IsFaulted)
            {
                await all; // a writer failed before the kill: report it
            }

            var victimHost = await counters[0].WhereAmI().WaitAsync(cancellationToken);
            int victim = cluster.SiloOfProcess(victimHost.ProcessId);
            Say($"{WritesBeforeKill}+ writes per grain acknowledged; counter-0 is active on {victimHost.Name} (pid {victimHost.ProcessId}): killing it");
            cluster.Kill(victim);

            await all;
            Say($"writers done: {string.Join(", ", acknowledged)} acknowledged");

            for (int i = 0; i < Grains; i++)
            {
                var state = await counters[i].Get().WaitAsync(cancellationToken);
                Assert.True(
                    state.Value == acknowledged[i] && state.Adds == acknowledged[i],
                    $"counter-{i}: {acknowledged[i]} writes acknowledged, final value {state.Value} after {state.Adds} applied adds");
            }

            Assert.Empty(errors);
            var moved = await counters[0].WhereAmI().WaitAsync(cancellationToken);
            Assert.NotEqual(victimHost.ProcessId, moved.ProcessId);
            Assert.DoesNotContain(victim, cluster.Running);
            Say($"final values equal acknowledged counts; counter-0 now active on {moved.Name}");
        }
        catch (Exception)
        {
            output?.WriteLine(cluster.Logs());
            throw;
        }
    }
}

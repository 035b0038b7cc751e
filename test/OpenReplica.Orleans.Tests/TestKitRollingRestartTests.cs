using System.Diagnostics;
using OpenReplica.Orleans.Testing;

namespace OpenReplica.Orleans.Tests;

/// <summary>
/// A rolling restart as a user runs one through the test kit (Kubernetes' StatefulSet does the same): each silo stopped
/// gracefully and started again under its name, so with its data directory, one after the other, under load.
/// </summary>
public sealed class TestKitRollingRestartTests
{
    // Long, so that a call that waits it out stands apart from a call that waited for a campaign or a retry.
    private static readonly TimeSpan CallTimeout = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Three silos, factor 3: no spare to hand groups to, so each stopping silo stays in the roster and Orleans moves its
    /// activations. Until session 26 its peers stopped sending it anything once membership called it ShuttingDown, so
    /// every call then in flight on its activations waited out the call timeout before its retry ran elsewhere.
    /// </summary>
    [Fact]
    public async Task A_rolling_restart_of_three_silos_keeps_every_write_and_no_call_waits_out_its_timeout()
    {
        var (outcome, roster, silos) = await RollingRestartOfThreeSilosAsync("restart-3", lease: null);

        Assert.True(outcome.SlowestMs < CallTimeout.TotalMilliseconds / 2,
            $"the slowest call ({outcome.Slowest}) took {outcome.SlowestMs} ms: it waited for the call timeout ({CallTimeout.TotalMilliseconds} ms), not for a new leader");
        Assert.Equal(silos.Order(), roster.Order());
    }

    /// <summary>
    /// The same with leader leases, long ones: a grain whose activation leaves with its silo starts on another member,
    /// and its first campaign needs the followers that guard the old activation's lease. Until session 26 they kept
    /// their guard for the whole lease (a resigning leader said nothing), so every such grain's calls waited about
    /// <see cref="LongLease"/>; now the resigning leader releases its lease and the next activation leads at once.
    /// A restarted silo's replicas promise nobody, themselves included, for one lease: its start returns only once
    /// that ended, and placement keeps activations off it meanwhile (session 27). The next silo stops right after:
    /// under load its activations' last steps waited for slow fsyncs, and their releases were dropped when the
    /// silo's transport stopped, until the deactivation waited for them (session 28).
    /// </summary>
    [Fact]
    public async Task With_leases_a_rolling_restart_does_not_wait_out_the_leases_of_the_stopping_silos_activations()
    {
        var (outcome, _, _) = await RollingRestartOfThreeSilosAsync("restart-lease", LongLease);

        Assert.True(outcome.SlowestMs < LongLease.TotalMilliseconds * 3 / 4,
            $"the slowest call ({outcome.Slowest}) took {outcome.SlowestMs} ms: it waited for the old activation's lease ({LongLease.TotalMilliseconds} ms) to run out");
    }

    /// <summary>
    /// Three Persisted silos under load, each stopped gracefully and restarted in turn; checks that no call failed and
    /// every acknowledged write is read back, and returns the load's outcome, the roster's silos and the live silos.
    /// </summary>
    private static async Task<(CounterLoad.Outcome Outcome, string?[] Roster, string[] Silos)> RollingRestartOfThreeSilosAsync(string prefix, TimeSpan? lease)
    {
        await using var cluster = await ReplicatedTestCluster.StartAsync(o =>
        {
            o.Mode = ReplicationMode.Persisted;
            o.Silos = 3;
            o.CallTimeout = CallTimeout;
            if (lease is { } duration) o.ConfigureReplication = r => r.LeaseDuration = duration;
            o.ConfigureSilo = FileLoggerProvider.AddTo; // silo logs with OPENREPLICA_TEST_LOG set
        });
        await using var load = new CounterLoad(cluster.Client, prefix, grains: 30, writers: 4);
        await load.WriteOnceEachAsync();

        foreach (var silo in cluster.Silos.ToList())
        {
            await cluster.StopSiloAsync(silo);
            // With leases, a restarted silo's start returns once its replicas' lease guard ended; the next stop follows
            // at once (sessions 27-28: a pause of one lease here hid lease releases lost at a stop).
            await cluster.RestartSiloAsync(silo);
        }
        await Task.Delay(500, TestContext.Current.CancellationToken);
        var outcome = await load.StopAsync();

        Assert.True(outcome.Errors.Count == 0, $"{outcome.Errors.Count} calls failed, such as: {string.Join("; ", outcome.Errors.Take(3))}");
        await load.AssertEveryWriteReadBackAsync();
        var status = await cluster.Client.GetReplicatedClusterStatusAsync();
        return (outcome, [.. status.Roster.Select(m => m.Silo)], [.. cluster.Silos.Select(s => s.SiloAddress.ToString())]);
    }

    private static readonly TimeSpan LongLease = TimeSpan.FromSeconds(8);

    /// <summary>
    /// Four silos: a silo stopped gracefully leaves the roster (a spare takes its place). Restarted with its data
    /// directory it is a spare again and is taken back in. Until session 26 every other silo remembered it as leaving
    /// for as long as they ran, so it was never taken back in and placement avoided it.
    /// </summary>
    [Fact]
    public async Task A_silo_restarted_after_a_graceful_stop_is_taken_back_into_the_roster()
    {
        await using var cluster = await ReplicatedTestCluster.StartAsync(o =>
        {
            o.Mode = ReplicationMode.Persisted;
            o.Silos = 4;
            o.ConfigureReplication = r =>
            {
                r.RosterSettlingPeriod = TimeSpan.FromMilliseconds(300);
                r.RebalanceInterval = TimeSpan.FromMilliseconds(200);
            };
        });
        await WaitForRosterAsync(cluster, roster => roster.Count == 4, "all four silos in the roster");
        await using var load = new CounterLoad(cluster.Client, "restart-4", grains: 40, writers: 4);
        await load.WriteOnceEachAsync();

        var silo = cluster.Silos[1];
        await cluster.StopSiloAsync(silo);
        await WaitForRosterAsync(cluster, roster => roster.Count == 3, "the stopped silo out of the roster");
        var back = await cluster.RestartSiloAsync(silo);
        string address = back.SiloAddress.ToString();
        await WaitForRosterAsync(cluster, roster => roster.Contains(address), $"restarted silo {address} back in the roster");
        var outcome = await load.StopAsync();

        Assert.True(outcome.Errors.Count == 0, $"{outcome.Errors.Count} calls failed, such as: {string.Join("; ", outcome.Errors.Take(3))}");
        await load.AssertEveryWriteReadBackAsync();
    }

    private static async Task WaitForRosterAsync(ReplicatedTestCluster cluster, Func<IReadOnlyCollection<string>, bool> condition, string what)
    {
        var waited = Stopwatch.StartNew();
        string last = "none";
        while (waited.Elapsed < TimeSpan.FromSeconds(60))
        {
            var status = await cluster.Client.GetReplicatedClusterStatusAsync();
            var roster = status.Roster.Where(m => m.Live).Select(m => m.Silo).OfType<string>().ToHashSet();
            last = string.Join(", ", roster);
            if (status.Roster.All(m => m.Live) && condition(roster)) return;
            await Task.Delay(200, TestContext.Current.CancellationToken);
        }
        Assert.Fail($"Timed out after 60 s waiting for {what}; last roster seen: {last}");
    }

    /// <summary>Closed-loop writers on a few counters; every acknowledged write is counted per counter.</summary>
    private sealed class CounterLoad(IClusterClient client, string prefix, int grains, int writers) : IAsyncDisposable
    {
        private readonly ICounterGrain[] _grains = [.. Enumerable.Range(0, grains).Select(i => client.GetGrain<ICounterGrain>($"{prefix}-{i}"))];
        private readonly long[] _acknowledged = new long[grains];
        private readonly List<string> _errors = [];
        private readonly CancellationTokenSource _stop = new();
        private List<Task>? _loops;
        private long _slowestMs;
        private string _slowest = "none";

        /// <summary>What the writers saw; <paramref name="Slowest"/> names the slowest call's grain and start (UTC), to find it in the logs.</summary>
        public sealed record Outcome(IReadOnlyList<string> Errors, long SlowestMs, string Slowest);

        /// <summary>Writes every counter once (so each has an activation), then starts the writers.</summary>
        public async Task WriteOnceEachAsync()
        {
            for (int i = 0; i < _grains.Length; i++)
            {
                await _grains[i].Add(1);
                _acknowledged[i]++;
            }
            _loops = [.. Enumerable.Range(0, writers).Select(w => Task.Run(() => LoopAsync(w)))];
        }

        private async Task LoopAsync(int seed)
        {
            var random = new Random(seed);
            while (!_stop.IsCancellationRequested)
            {
                int i = random.Next(_grains.Length);
                long started = Stopwatch.GetTimestamp();
                var startedAt = DateTime.UtcNow;
                try
                {
                    await _grains[i].Add(1);
                    Interlocked.Increment(ref _acknowledged[i]);
                }
                catch (Exception e)
                {
                    lock (_errors) _errors.Add($"{prefix}-{i}: {e.GetType().Name}: {e.Message}");
                }
                long ms = (long)Stopwatch.GetElapsedTime(started).TotalMilliseconds;
                lock (_errors)
                {
                    if (ms > _slowestMs)
                    {
                        _slowestMs = ms;
                        _slowest = $"{prefix}-{i} from {startedAt:HH:mm:ss.fff}";
                    }
                }
            }
        }

        public async Task<Outcome> StopAsync()
        {
            _stop.Cancel();
            if (_loops is not null) await Task.WhenAll(_loops);
            lock (_errors) return new Outcome([.. _errors], _slowestMs, _slowest);
        }

        /// <summary>Every counter holds exactly its acknowledged writes: none lost, none applied twice.</summary>
        public async Task AssertEveryWriteReadBackAsync()
        {
            for (int i = 0; i < _grains.Length; i++)
            {
                Assert.Equal(_acknowledged[i], (await _grains[i].Get()).Value);
            }
            Assert.True(_acknowledged.Sum() > 2L * _grains.Length, $"only {_acknowledged.Sum()} writes acknowledged during the restarts");
        }

        public async ValueTask DisposeAsync()
        {
            await StopAsync();
            _stop.Dispose();
        }
    }
}

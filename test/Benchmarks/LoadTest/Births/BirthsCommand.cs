using System.CommandLine;
using System.Diagnostics;
using OpenReplica.Orleans;
using OpenReplica.Orleans.Testing;

namespace OpenReplica.LoadTest.Births;

/// <summary>
/// The <c>births</c> subcommand: what a grain's first write costs (its consensus group is born: a birth claim round,
/// a replica created on each of its silos, a campaign) against the same grains' second writes and a plain grain's first
/// call, measured in one run on one in-process cluster (<see cref="ReplicatedTestCluster"/>, so only the ratios mean
/// anything). Workloads keyed by something new per write (orders, sessions, events) pay the first-write cost on every
/// write.
/// </summary>
internal static class BirthsCommand
{
    public static Command Create()
    {
        var grains = new Option<int>("--grains") { Description = "New grains written at 64 callers", DefaultValueFactory = _ => 10_000 };
        var sequential = new Option<int>("--sequential") { Description = "New grains written by one caller (latency)", DefaultValueFactory = _ => 300 };
        var silos = new Option<int>("--silos") { Description = "Silos in the in-process cluster", DefaultValueFactory = _ => 3 };
        var volatileMode = new Option<bool>("--volatile") { Description = "Volatile mode (default: Persisted, temp data directories)" };
        var command = new Command("births", "First writes to new replicated grains against their second writes and a plain grain's first call (in-process cluster)")
        {
            grains, sequential, silos, volatileMode,
        };
        command.SetAction(async (parse, _) =>
        {
            var mode = parse.GetValue(volatileMode) ? ReplicationMode.Volatile : ReplicationMode.Persisted;
            await using var cluster = await ReplicatedTestCluster.StartAsync(o => { o.Mode = mode; o.Silos = parse.GetValue(silos); });
            var client = cluster.Client;
            int n = parse.GetValue(grains);
            await WriteAllAsync(client, "warm", 500, GrainClasses.Replicated); // JIT and tiering on every path
            await WriteAllAsync(client, "warm-plain", 500, GrainClasses.Plain);

            // One caller: the latency of each kind of call.
            var (first, second, plain) = await SequentialAsync(client, parse.GetValue(sequential));
            // 64 callers: throughput.
            double born = await WriteAllAsync(client, "born", n, GrainClasses.Replicated);
            double again = await WriteAllAsync(client, "born", n, GrainClasses.Replicated);
            double plainNew = await WriteAllAsync(client, "plain", n, GrainClasses.Plain);
            // Then idle: every grain just written still has its groups in memory (IdleGroupEvictionAfter, 30 s).
            await Task.Delay(TimeSpan.FromSeconds(2));
            double idleCpu = await ProcessCpuPerSecondAsync(TimeSpan.FromSeconds(5));
            Console.WriteLine($"births ({mode}, {parse.GetValue(silos)} silos in one process, {n:N0} grains, 64 callers)");
            Console.WriteLine($"  first writes (new grains)    {born,9:N0}/s   1 caller p50 {first:0.00} ms");
            Console.WriteLine($"  second writes (same grains)  {again,9:N0}/s   1 caller p50 {second:0.00} ms   first/second {born / again:0.00}x");
            Console.WriteLine($"  plain grains' first calls    {plainNew,9:N0}/s   1 caller p50 {plain:0.00} ms   first writes/plain {born / plainNew:0.00}x");
            Console.WriteLine($"  then idle, {n + 500 + parse.GetValue(sequential):N0} replicated grains' groups in memory: {idleCpu:0} ms of CPU per second (silos and client)");
            return 0;
        });
        return command;
    }

    private static async Task<double> WriteAllAsync(IClusterClient client, string prefix, int count, string grainClass)
    {
        int next = -1;
        var stopwatch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, 64).Select(_ => Task.Run(async () =>
        {
            int i;
            while ((i = Interlocked.Increment(ref next)) < count)
            {
                await client.GetGrain<ICounterGrain>($"{prefix}-{i}", grainClass).Increment();
            }
        })));
        return count / stopwatch.Elapsed.TotalSeconds;
    }

    private static async Task<(double First, double Second, double Plain)> SequentialAsync(IClusterClient client, int count)
    {
        var first = new List<double>();
        var second = new List<double>();
        var plain = new List<double>();
        for (int i = 0; i < count; i++)
        {
            var grain = client.GetGrain<ICounterGrain>($"seq-{i}", GrainClasses.Replicated);
            long started = Stopwatch.GetTimestamp();
            await grain.Increment();
            first.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            started = Stopwatch.GetTimestamp();
            await grain.Increment();
            second.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
            started = Stopwatch.GetTimestamp();
            await client.GetGrain<ICounterGrain>($"seq-plain-{i}", GrainClasses.Plain).Increment();
            plain.Add(Stopwatch.GetElapsedTime(started).TotalMilliseconds);
        }
        return (Median(first), Median(second), Median(plain));
    }

    private static async Task<double> ProcessCpuPerSecondAsync(TimeSpan period)
    {
        using var process = Process.GetCurrentProcess();
        var before = process.TotalProcessorTime;
        var stopwatch = Stopwatch.StartNew();
        await Task.Delay(period);
        process.Refresh();
        return (process.TotalProcessorTime - before).TotalMilliseconds / stopwatch.Elapsed.TotalSeconds;
    }

    private static double Median(List<double> values)
    {
        values.Sort();
        return values[values.Count / 2];
    }
}

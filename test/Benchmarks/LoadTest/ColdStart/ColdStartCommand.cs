using System.CommandLine;
using System.Diagnostics;
using Microsoft.Extensions.DependencyInjection;
using OpenReplica.Orleans;
using OpenReplica.Orleans.Testing;
using Orleans.TestingHost;

namespace OpenReplica.LoadTest.ColdStart;

/// <summary>
/// The <c>coldstart</c> subcommand: what a fresh process's first replicated calls cost with and without the silo
/// warm-up (<see cref="ReplicatedGrainsOptions.WarmUpAtStart"/>). Each run is a new process (so nothing is compiled
/// yet) with an in-process cluster; runs with and without the warm-up alternate. In each, once the silos are active and
/// the warm-up had time to end, a plain grain is called first (Orleans' own call paths are then warm, as on a silo
/// that has been serving), then a new replicated grain (its first call: birth, activation, consensus), then a second
/// new one (warm: what every later grain pays).
/// </summary>
internal static class ColdStartCommand
{
    public static Command Create()
    {
        var runs = new Option<int>("--runs") { Description = "Processes per setting (with and without the warm-up, alternating)", DefaultValueFactory = _ => 5 };
        var child = new Option<string?>("--child") { Description = "Internal: run one measurement in this process, warm-up 'on' or 'off'", Hidden = true };
        var command = new Command("coldstart", "A fresh process's first replicated calls with and without the silo warm-up (in-process cluster, one process per run)")
        {
            runs, child,
        };
        command.SetAction(async (parse, _) =>
        {
            if (parse.GetValue(child) is { } setting) return await MeasureAsync(setting == "on");
            var results = new Dictionary<bool, List<double[]>> { [true] = [], [false] = [] };
            for (int run = 0; run < parse.GetValue(runs); run++)
            {
                foreach (bool warm in new[] { false, true })
                {
                    var measured = await RunChildAsync(warm);
                    results[warm].Add(measured);
                    Console.WriteLine($"run {run + 1}, warm-up {(warm ? "on " : "off")}: plain first {measured[0]:0} ms, replicated first {measured[1]:0} ms, second new replicated {measured[2]:0} ms"
                        + (warm ? $" (the longest of the silos' warm-ups, in the background: {measured[3]:0} ms)" : ""));
                }
            }
            Console.WriteLine();
            Console.WriteLine("| warm-up | plain grain's first call (median) | first replicated call (median) | second new replicated grain (median) |");
            Console.WriteLine("|---|---:|---:|---:|");
            foreach (bool warm in new[] { false, true })
            {
                double Median(int i) => results[warm].Select(r => r[i]).Order().ElementAt(results[warm].Count / 2);
                Console.WriteLine($"| {(warm ? "on" : "off")} | {Median(0):0} ms | {Median(1):0} ms | {Median(2):0} ms |");
            }
            return 0;
        });
        return command;
    }

    private static async Task<double[]> RunChildAsync(bool warm)
    {
        var psi = new ProcessStartInfo(SiloProcess.DotnetHost()) { RedirectStandardOutput = true, RedirectStandardError = true };
        psi.ArgumentList.Add((System.Reflection.Assembly.GetEntryAssembly() ?? typeof(ColdStartCommand).Assembly).Location);
        foreach (string a in new[] { "coldstart", "--child", warm ? "on" : "off" }) psi.ArgumentList.Add(a);
        using var process = Process.Start(psi) ?? throw new InvalidOperationException("could not start a measuring process");
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        using var bound = new CancellationTokenSource(TimeSpan.FromMinutes(2));
        await process.WaitForExitAsync(bound.Token);
        string output = await stdout;
        string? line = output.Split('\n').Select(l => l.Trim()).LastOrDefault(l => l.StartsWith("measured ", StringComparison.Ordinal));
        if (process.ExitCode != 0 || line is null)
        {
            throw new InvalidOperationException($"the measuring process failed (exit {process.ExitCode}): {await stderr}{output}");
        }
        return [.. line["measured ".Length..].Split(' ').Select(x => double.Parse(x, System.Globalization.CultureInfo.InvariantCulture))];
    }

    private static async Task<int> MeasureAsync(bool warm)
    {
        await using var cluster = await ReplicatedTestCluster.StartAsync(o => o.ConfigureReplication = r => r.WarmUpAtStart = warm);
        await Task.Delay(TimeSpan.FromSeconds(5)); // the warm-up runs in the background once the silos are active
        // The silos' warm-ups run side by side in this process, the slowest on the coldest code: the longest (0 without).
        double warmUpMs = 0;
        foreach (var silo in cluster.Cluster.Silos.Cast<InProcessSiloHandle>())
        {
            if (await silo.ServiceProvider.GetRequiredService<SiloWarmUp>().Completion is { } report) warmUpMs = Math.Max(warmUpMs, report.Elapsed.TotalMilliseconds);
        }
        double plain = await TimeAsync(cluster.Client.GetGrain<ICounterGrain>("plain", GrainClasses.Plain));
        double first = await TimeAsync(cluster.Client.GetGrain<ICounterGrain>("first", GrainClasses.Replicated));
        double second = await TimeAsync(cluster.Client.GetGrain<ICounterGrain>("second", GrainClasses.Replicated));
        Console.WriteLine(FormattableString.Invariant($"measured {plain:0.0} {first:0.0} {second:0.0} {warmUpMs:0.0}"));
        return 0;
    }

    private static async Task<double> TimeAsync(ICounterGrain grain)
    {
        long started = Stopwatch.GetTimestamp();
        await grain.Increment();
        return Stopwatch.GetElapsedTime(started).TotalMilliseconds;
    }
}

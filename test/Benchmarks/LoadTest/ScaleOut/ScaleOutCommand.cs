using System.CommandLine;

namespace OpenReplica.LoadTest.ScaleOut;

/// <summary>
/// The <c>scaleout</c> subcommand: issue 13's targets on silo processes — spread over six silos, a seventh joining
/// under load, a rolling replacement of all six under load (Volatile and Persisted), exactly-once checked.
/// </summary>
internal static class ScaleOutCommand
{
    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "1,000 grains spread and joined, 300 per rolling replacement (bounded at 20 minutes); docs are not written unless --doc is given" };
        var grains = new Option<int?>("--grains") { Description = "Grains of the spread and join phases (default 10,000; quick 1,000)" };
        var rollingGrains = new Option<int?>("--rolling-grains") { Description = "Grains of each rolling replacement (default 1,000; quick 300)" };
        var callers = new Option<int?>("--callers") { Description = "Closed-loop writers during the join and the rolling replacements (default 32; quick 16)" };
        var only = new Option<string?>("--only") { Description = "Run only these phases (comma list of spread,volatile,persisted; spread includes the join)" };
        var rebalance = new Option<double?>("--rebalance-minutes") { Description = "Bound on each wait for a rebalance to finish (default 10; quick 2)" };
        var doc = new Option<string?>("--doc") { Description = "Markdown file whose scaleout section is replaced (default: docs/benchmarks.md on full runs)" };
        var noDoc = new Option<bool>("--no-doc") { Description = "Do not write the docs file" };
        var keepTemp = new Option<bool>("--keep-temp") { Description = "Keep the temp directory (silo logs, data directories)" };

        var command = new Command("scaleout", "Replicated grains over six silo processes: spread, a seventh silo joining under load, rolling replacement of every silo under load")
        {
            quick, grains, rollingGrains, callers, only, rebalance, doc, noDoc, keepTemp,
        };
        command.SetAction(async (parse, _) =>
        {
            bool isQuick = parse.GetValue(quick);
            string? docPath = parse.GetValue(noDoc) ? null : parse.GetValue(doc) ?? (isQuick ? null : Path.Combine(Settings.RepoRoot(), "docs", "benchmarks.md"));
            var phases = parse.GetValue(only) is { } list
                ? list.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).Select(p => p.ToLowerInvariant()).ToHashSet()
                : ScaleOutSettings.AllPhases.ToHashSet();
            if (phases.FirstOrDefault(p => !ScaleOutSettings.AllPhases.Contains(p)) is { } unknown)
            {
                Console.Error.WriteLine($"--only: unknown phase '{unknown}' (expected a comma list of {string.Join(",", ScaleOutSettings.AllPhases)})");
                return 2;
            }
            int spread = parse.GetValue(grains) ?? (isQuick ? 1_000 : 10_000);
            int rolling = parse.GetValue(rollingGrains) ?? (isQuick ? 300 : 1_000);
            int writers = parse.GetValue(callers) ?? (isQuick ? 16 : 32);
            if (spread < 1 || rolling < 1 || writers < 1)
            {
                Console.Error.WriteLine("--grains, --rolling-grains and --callers must be at least 1");
                return 2;
            }
            var settings = new ScaleOutSettings(isQuick, spread, rolling, writers, phases, docPath, parse.GetValue(keepTemp),
                "dotnet run -c Release --project test/Benchmarks/LoadTest -- " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
                parse.GetValue(rebalance));
            return await ScaleOutRun.RunAsync(settings);
        });
        return command;
    }
}

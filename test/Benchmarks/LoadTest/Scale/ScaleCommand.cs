using System.CommandLine;

namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// The <c>scale</c> subcommand: memory and disk per idle replicated grain, and the time to reactivate a grain with
/// a long log (with and without snapshots).
/// </summary>
internal static class ScaleCommand
{
    public static Command Create()
    {
        var quick = new Option<bool>("--quick") { Description = "10,000 grains and a 20,000-entry log (about a minute on a quiet machine); docs are not written unless --doc is given" };
        var grains = new Option<int?>("--grains") { Description = "Grains per fleet (default 100,000; quick 10,000)" };
        var entries = new Option<int?>("--log-entries") { Description = "Entries (writes) in the reactivated grain's log (default 100,000; quick 20,000)" };
        var repetitions = new Option<int?>("--repetitions") { Description = "Reactivations timed per log (default 5; quick 3)" };
        var volatileGrains = new Option<int?>("--volatile-grains") { Description = "Grains of the Volatile fleet, for comparison (default: --grains, at most 10,000, to keep the run near 5 minutes; 0 skips it)" };
        var doc = new Option<string?>("--doc") { Description = "Markdown file whose scale section is replaced (default: docs/benchmarks.md on full runs)" };
        var noDoc = new Option<bool>("--no-doc") { Description = "Do not write the docs file" };
        var only = new Option<string[]>("--only") { Description = "Measure only these parts: idle (memory per idle grain), reactivation (snapshots on), replay (snapshots off); default all", AllowMultipleArgumentsPerToken = true };
        only.AcceptOnlyFromAmong(ScaleSettings.Parts);
        var keepTemp = new Option<bool>("--keep-temp") { Description = "Keep the temp directory (silo log, data directories)" };

        var command = new Command("scale", "Memory and WAL bytes per idle replicated grain; time to reactivate a grain with a long log")
        {
            quick, grains, entries, repetitions, volatileGrains, doc, noDoc, keepTemp, only,
        };
        command.SetAction(async (parse, _) =>
        {
            bool isQuick = parse.GetValue(quick);
            string? docPath = parse.GetValue(noDoc) ? null : parse.GetValue(doc) ?? (isQuick ? null : Path.Combine(Settings.RepoRoot(), "docs", "benchmarks.md"));
            int fleet = parse.GetValue(grains) ?? (isQuick ? 10_000 : 100_000);
            var settings = new ScaleSettings(
                isQuick,
                fleet,
                parse.GetValue(entries) ?? (isQuick ? 20_000 : 100_000),
                parse.GetValue(repetitions) ?? (isQuick ? 3 : 5),
                parse.GetValue(volatileGrains) ?? Math.Min(fleet, 10_000),
                docPath,
                parse.GetValue(keepTemp),
                "dotnet run -c Release --project test/Benchmarks/LoadTest -- " + string.Join(' ', Environment.GetCommandLineArgs().Skip(1)),
                parse.GetValue(only) is { Length: > 0 } parts ? parts.ToHashSet(StringComparer.Ordinal) : null);
            return await ScaleRun.RunAsync(settings);
        });
        return command;
    }
}

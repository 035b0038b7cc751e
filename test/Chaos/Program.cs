using System.CommandLine;
using System.Globalization;
using System.Text;
using OpenReplica.Chaos;
using SiloCommand = OpenReplica.LoadTest.SiloCommand;

// The chaos tool: silo processes, a client workload, a seeded nemesis schedule, and the history checked by
// OpenReplica.Checker. `silo` is the child-process entry point (the load tool's silo host, with this tool's grains).
var seed = new Option<int?>("--seed") { Description = "Seed of the nemesis schedules and the workloads (printed; default: random)" };
var duration = new Option<TimeSpan>("--duration")
{
    Description = "Workload time per cell, e.g. 20s or 1m",
    DefaultValueFactory = _ => TimeSpan.FromSeconds(20),
    CustomParser = r => ParseDuration(r.Tokens[0].Value),
};
var nemeses = new Option<NemesisKind[]>("--nemesis") { Description = "Nemeses to run (default: all)", AllowMultipleArgumentsPerToken = true };
var workloads = new Option<WorkloadKind[]>("--workload") { Description = "Workloads to run (default: all)", AllowMultipleArgumentsPerToken = true };
var clients = new Option<int>("--clients") { Description = "Concurrent clients", DefaultValueFactory = _ => 8 };
var registers = new Option<int>("--registers") { Description = "CAS registers (one history each)", DefaultValueFactory = _ => 4 };
var lease = new Option<int>("--lease-ms") { Description = "Leader lease (0: off)", DefaultValueFactory = _ => 2000 };
var output = new Option<string?>("--output") { Description = "Also write the markdown table to this file" };

var root = new RootCommand("OpenReplica chaos tool: silo processes under kill -9, SIGSTOP and partitions, histories checked")
{
    seed, duration, nemeses, workloads, clients, registers, lease, output, SiloCommand.Create(),
};
root.SetAction(async (parse, cancellationToken) =>
{
    string? invalid = parse.GetValue(duration) <= TimeSpan.Zero ? "--duration must be positive"
        : parse.GetValue(clients) < 1 ? "--clients must be at least 1"
        : parse.GetValue(registers) < 1 ? "--registers must be at least 1"
        : parse.GetValue(lease) < 0 ? "--lease-ms must not be negative" : null;
    if (invalid is not null)
    {
        await Console.Error.WriteLineAsync(invalid);
        return 2;
    }
    int s = parse.GetValue(seed) ?? Random.Shared.Next();
    var kinds = parse.GetValue(nemeses) is { Length: > 0 } n ? n : [NemesisKind.None, NemesisKind.KillOne, NemesisKind.KillAll, NemesisKind.Pause, NemesisKind.Partition];
    var loads = parse.GetValue(workloads) is { Length: > 0 } w ? w : [WorkloadKind.Register, WorkloadKind.Bank];
    string work = Path.Combine(Path.GetTempPath(), $"openreplica-chaos-{s}-{Environment.ProcessId}");
    var settings = new ChaosSettings(s, parse.GetValue(duration), parse.GetValue(clients), parse.GetValue(registers),
        TimeSpan.FromMilliseconds(parse.GetValue(lease)), work);
    Console.WriteLine($"seed {s} (replay: --seed {s}); logs and data under {work}");

    var table = new StringBuilder();
    table.AppendLine("| Nemesis | Workload | Operations | ok | failed | unknown | Verdict | Seed |");
    table.AppendLine("|---|---|---:|---:|---:|---:|---|---:|");
    int exit = 0;
    foreach (var kind in kinds)
    {
        foreach (var load in loads)
        {
            void Log(string line) => Console.WriteLine($"[{kind}/{load}] {line}");
            string row;
            if (kind == NemesisKind.Partition && !Nemesis.IptablesAvailable)
            {
                Log("skipped: iptables is not available (apt-get install iptables, run as root)");
                row = $"| {kind} | {load} | – | – | – | – | skipped (no iptables) | {s} |";
            }
            else
            {
                ChaosCellResult result;
                try
                {
                    result = await CellRunner.RunAsync(kind, load, settings, Log, cancellationToken);
                }
                catch (Exception e) when (!cancellationToken.IsCancellationRequested)
                {
                    result = new ChaosCellResult(0, 0, 0, 0, "error", e.Message.ReplaceLineEndings(" "));
                }
                Log($"{result.Operations} ops, {result.Ok} ok, {result.Failed} failed, {result.Unknown} unknown: {result.Verdict} {result.Detail}");
                if (result.Verdict.Contains("**", StringComparison.Ordinal) || result.Verdict == "error") exit = 1;
                row = string.Create(CultureInfo.InvariantCulture, $"| {kind} | {load} | {result.Operations} | {result.Ok} | {result.Failed} | {result.Unknown} | {result.Verdict} | {s} |");
            }
            table.AppendLine(row);
        }
    }
    Console.WriteLine();
    Console.Write(table);
    if (parse.GetValue(output) is { } file) await File.WriteAllTextAsync(file, table.ToString(), CancellationToken.None);
    return exit;
});
return await root.Parse(args).InvokeAsync();

static TimeSpan ParseDuration(string text)
{
    text = text.Trim();
    double Number(string t) => double.Parse(t, NumberStyles.Float, CultureInfo.InvariantCulture);
    if (text.EndsWith("ms", StringComparison.Ordinal)) return TimeSpan.FromMilliseconds(Number(text[..^2]));
    if (text.EndsWith('s')) return TimeSpan.FromSeconds(Number(text[..^1]));
    if (text.EndsWith('m')) return TimeSpan.FromMinutes(Number(text[..^1]));
    return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var t) ? t : TimeSpan.FromSeconds(Number(text));
}

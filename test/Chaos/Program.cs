using System.CommandLine;
using System.Globalization;
using OpenReplica.Chaos;
using SiloCommand = OpenReplica.LoadTest.SiloCommand;

// The chaos tool: silo processes, client workloads, a seeded nemesis schedule aimed at the leader, and the histories
// checked by OpenReplica.Checker. `silo` is the child-process entry point (the load tool's silo host, with this
// tool's grains and silo options).
var seed = new Option<int?>("--seed") { Description = "Seed of the nemesis schedules and the workloads (printed; default: random)" };
var profile = new Option<ChaosProfile>("--profile")
{
    Description = "short: the CI run (two cells, ~90 s); long: every nemesis, pauses also with Orleans' default membership",
    DefaultValueFactory = _ => ChaosProfile.Long,
};
var duration = new Option<TimeSpan?>("--duration")
{
    Description = "Workload time per cell, e.g. 20s or 1m (default: the profile's)",
    CustomParser = r => ParseDuration(r.Tokens[0].Value),
};
var nemeses = new Option<NemesisKind[]>("--nemesis") { Description = "Nemeses to run (default: the profile's)", AllowMultipleArgumentsPerToken = true };
var workloads = new Option<WorkloadKind[]>("--workload") { Description = "Workloads, run at once in every cell (default: all)", AllowMultipleArgumentsPerToken = true };
var membership = new Option<MembershipSettings[]>("--membership") { Description = "Membership settings (default: the profile's)", AllowMultipleArgumentsPerToken = true };
var clients = new Option<int>("--clients") { Description = "Concurrent clients per workload", DefaultValueFactory = _ => 6 };
var registers = new Option<int>("--registers") { Description = "CAS registers (one history each)", DefaultValueFactory = _ => 4 };
var lease = new Option<int>("--lease-ms") { Description = "Leader lease (0: off)", DefaultValueFactory = _ => 2000 };
var redis = new Option<string>("--redis")
{
    Description = "Redis for Orleans membership, so every silo can be faulted ('none': localhost clustering, silo 0 holds membership and is never faulted)",
    DefaultValueFactory = _ => Environment.GetEnvironmentVariable("OPENREPLICA_REDIS") ?? "127.0.0.1:6379",
};
var skew = new Option<double>("--clock-skew")
{
    Description = "ClockSkew: silo 1's engine clock runs at 1+x, silo 2's at 1-x (leases are safe for x below 1/15; larger x shows what breaks)",
    DefaultValueFactory = _ => Schedule.DefaultClockSkew,
};
var output = new Option<string?>("--output") { Description = "Also write the markdown table to this file" };

var root = new RootCommand("OpenReplica chaos tool: silo processes under kill -9, SIGSTOP, partitions, clock faults, full disks and failed fsyncs; histories checked")
{
    seed, profile, duration, nemeses, workloads, membership, clients, registers, lease, redis, skew, output,
    SiloCommand.Create(ChaosSilo.Options, ChaosSilo.Configure),
};
root.SetAction(async (parse, cancellationToken) =>
{
    var p = parse.GetValue(profile);
    var d = parse.GetValue(duration) ?? (p == ChaosProfile.Short ? TimeSpan.FromSeconds(16) : TimeSpan.FromSeconds(40));
    string? invalid = d <= TimeSpan.Zero ? "--duration must be positive"
        : parse.GetValue(clients) < 1 ? "--clients must be at least 1"
        : parse.GetValue(registers) < 1 ? "--registers must be at least 1"
        : parse.GetValue(lease) < 0 ? "--lease-ms must not be negative"
        : parse.GetValue(skew) is < 0 or >= 1 ? "--clock-skew must be at least 0 and below 1" : null;
    if (invalid is not null)
    {
        await Console.Error.WriteLineAsync(invalid);
        return 2;
    }
    int s = parse.GetValue(seed) ?? Random.Shared.Next();
    string? redisMembership = await RedisProbe.ReachableAsync(parse.GetValue(redis)!);
    var cells = Profiles.Cells(p, parse.GetValue(nemeses), parse.GetValue(membership));
    var loads = parse.GetValue(workloads) is { Length: > 0 } w ? w : [WorkloadKind.Register, WorkloadKind.Bank, WorkloadKind.Append, WorkloadKind.Lock];
    string work = Path.Combine(Path.GetTempPath(), $"openreplica-chaos-{s}-{Environment.ProcessId}");
    var settings = new ChaosSettings(s, d, parse.GetValue(clients), parse.GetValue(registers), TimeSpan.FromMilliseconds(parse.GetValue(lease)), work, redisMembership,
        parse.GetValue(skew));
    Console.WriteLine($"seed {s} (replay: --seed {s}); profile {p}, {d.TotalSeconds:0} s per cell; membership in {(redisMembership is null ? "silo 0 (localhost clustering: silo 0 is never faulted)" : "Redis " + redisMembership)}; logs and data under {work}");

    var table = new ResultTable(s);
    foreach (var (kind, settingsOfMembership) in cells)
    {
        void Log(string line) => Console.WriteLine($"[{kind}/{settingsOfMembership}] {line}");
        CellReport report;
        if (CellRunner.Unavailable(kind) is { } why)
        {
            Log("skipped: " + why);
            report = new CellReport(kind, settingsOfMembership, [], [], 0, why);
        }
        else
        {
            try
            {
                report = await CellRunner.RunAsync(kind, settingsOfMembership, loads, settings, Log, cancellationToken);
            }
            catch (Exception e) when (!cancellationToken.IsCancellationRequested)
            {
                Log($"error: {e}");
                report = new CellReport(kind, settingsOfMembership, [(loads[0], new ChaosCellResult(0, 0, 0, 0, "error", e.Message.ReplaceLineEndings(" ")))], [], 0);
            }
        }
        foreach (var (load, result) in report.Results) Log($"{load}: {result.Operations} ops, {result.Ok} ok, {result.Failed} failed, {result.Unknown} unknown: {result.Verdict} {result.Detail}");
        foreach (var (fault, recovery) in report.Faults) Log($"{fault.Describe()}: grains available again after {(recovery is { } r ? $"{r.TotalSeconds:0.0} s" : "–")}");
        if (report.Skipped is null) Log($"consensus messages refused from silos membership declared dead (zombies): {report.ZombieRefusals} warning(s) in the silo logs");
        table.Add(report);
    }
    Console.WriteLine();
    Console.Write(table.Markdown());
    if (parse.GetValue(output) is { } file) await File.WriteAllTextAsync(file, table.Markdown(), CancellationToken.None);
    return table.Failed ? 1 : 0;
});
// Ctrl-C: the running cell heals its faults and tears its cluster down (silo processes, firewall rules, mounts) first.
return await root.Parse(args).InvokeAsync(new InvocationConfiguration { ProcessTerminationTimeout = TimeSpan.FromSeconds(60) });

static TimeSpan ParseDuration(string text)
{
    text = text.Trim();
    double Number(string t) => double.Parse(t, NumberStyles.Float, CultureInfo.InvariantCulture);
    if (text.EndsWith("ms", StringComparison.Ordinal)) return TimeSpan.FromMilliseconds(Number(text[..^2]));
    if (text.EndsWith('s')) return TimeSpan.FromSeconds(Number(text[..^1]));
    if (text.EndsWith('m')) return TimeSpan.FromMinutes(Number(text[..^1]));
    return TimeSpan.TryParse(text, CultureInfo.InvariantCulture, out var t) ? t : TimeSpan.FromSeconds(Number(text));
}

using System.Diagnostics;
using System.Globalization;
using OpenReplica.Checker;

// Times the checker on the public histories in test/testdata (Porcupine's Jepsen etcd logs and kv histories), in
// process and warmed up, the way Porcupine's Go benchmarks time it: per file, the median of several checks of the
// already-parsed history. Usage: dotnet run -c Release --project test/Benchmarks/Checker -- [--runs N] [--parallelism N] [FILTER]
var runs = 5;
var parallelism = CheckOptions.DefaultParallelism;
string? filter = null;
for (var i = 0; i < args.Length; i++)
{
    switch (args[i])
    {
        case "--runs":
            runs = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        case "--parallelism":
            parallelism = int.Parse(args[++i], CultureInfo.InvariantCulture);
            break;
        default:
            filter = args[i];
            break;
    }
}

var root = AppContext.BaseDirectory;
while (!File.Exists(Path.Combine(root, "OpenReplica.sln")))
{
    root = Path.GetDirectoryName(root) ?? throw new InvalidOperationException("OpenReplica.sln not found above the binaries");
}

var data = Path.Combine(root, "test", "testdata");
var options = new CheckOptions { Budget = TimeSpan.FromSeconds(120), Explain = false, Parallelism = parallelism };
Console.WriteLine($"{"history",-16} {"verdict",-17} {"median ms",10} {"min ms",10} {"cpu ms",10}   (runs: {runs}, parallelism: {parallelism}; cpu = median processor time of this process)");

foreach (var file in Directory.GetFiles(Path.Combine(data, "porcupine-kv"), "*.txt").Order())
{
    var history = EdnHistoryReader.ReadKeyValueFile(file);
    Time(file, () => Linearizability.Check(Models.KeyValueStartingEmpty, history, options));
}

foreach (var file in Directory.GetFiles(Path.Combine(data, "jepsen-etcd"), "*.log").Order())
{
    var history = JepsenLogReader.ReadFile(file);
    Time(file, () => Linearizability.Check(Models.CasRegister, history, options));
}

void Time(string file, Func<CheckResult> check)
{
    var name = Path.GetFileName(file);
    if (filter is not null && !name.Contains(filter, StringComparison.Ordinal))
    {
        return;
    }

    var verdict = check().Verdict; // warm-up (JIT)
    var times = new double[runs];
    var cpu = new double[runs];
    var process = Process.GetCurrentProcess();
    for (var r = 0; r < runs; r++)
    {
        process.Refresh();
        var cpuBefore = process.TotalProcessorTime;
        var stopwatch = Stopwatch.StartNew();
        var again = check().Verdict;
        times[r] = stopwatch.Elapsed.TotalMilliseconds;
        process.Refresh();
        cpu[r] = (process.TotalProcessorTime - cpuBefore).TotalMilliseconds;
        if (again != verdict)
        {
            throw new InvalidOperationException($"{name}: verdict changed from {verdict} to {again}");
        }
    }

    Array.Sort(times);
    Array.Sort(cpu);
    Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name,-16} {verdict,-17} {times[runs / 2],10:0.000} {times[0],10:0.000} {cpu[runs / 2],10:0.0}"));
}

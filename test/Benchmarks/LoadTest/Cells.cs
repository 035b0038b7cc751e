namespace OpenReplica.LoadTest;

/// <summary>The systems the load test compares, in report order.</summary>
internal enum Scenario { Plain, Redis, Postgres, Volatile, Persisted, Persisted5, Etcd }

internal enum Workload { Write, Read }

internal static class Scenarios
{
    public static string Name(Scenario s) => s switch
    {
        Scenario.Plain => "1. plain",
        Scenario.Redis => "2a. IPersistentState on Redis",
        Scenario.Postgres => "2b. IPersistentState on PostgreSQL",
        Scenario.Volatile => "3a. replicated Volatile",
        Scenario.Persisted => "3b. replicated Persisted",
        Scenario.Persisted5 => "3c. replicated Persisted, factor 5",
        _ => "4. etcd (3 members)",
    };

    /// <summary>The name <c>--only</c> takes.</summary>
    public static string Key(Scenario s) => s.ToString().ToLowerInvariant();

    public static bool IsReplicated(Scenario s) => s is Scenario.Volatile or Scenario.Persisted or Scenario.Persisted5;

    public static string WorkloadName(Scenario s, Workload w) => (s, w) switch
    {
        (Scenario.Etcd, Workload.Write) => "write (put)",
        (Scenario.Etcd, _) => "read (linearizable get)",
        (_, Workload.Write) => "write (Increment)",
        _ => "read ([ReadOnly] Get)",
    };
}

internal sealed record CellSpec(Scenario Scenario, Workload Workload, int Callers, int Grains, int IdleGrains = 0)
{
    public string Name => $"{Scenarios.Name(Scenario)} {Workload.ToString().ToLowerInvariant()}s, {Callers} caller{(Callers == 1 ? "" : "s")}, {GrainsText}";

    public string GrainsText => (Grains == 1 ? "1 hot " : $"{Grains:N0} ") + (Scenario == Scenario.Etcd ? "key" : "grain") + (Grains == 1 ? "" : "s")
        + (IdleGrains > 0 ? $" + {IdleGrains:N0} idle" : "");

    /// <summary>The same cell for another system (for the ratios); the references have no idle grains, so they compare without.</summary>
    public CellSpec For(Scenario other) => this with { Scenario = other, IdleGrains = 0 };
}

internal sealed record CellResult(
    CellSpec Spec,
    long Ops,
    double Seconds,
    long Errors,
    double P50Ms,
    double P99Ms,
    double P999Ms,
    double MaxMs,
    double CpuPercent,
    double MessagesPerOp,
    double BatchesPerOp,
    long Dropped,
    bool TimedOut)
{
    public double Throughput => Ops / Seconds;
}

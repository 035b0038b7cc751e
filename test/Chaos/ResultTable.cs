using System.Globalization;
using System.Text;

namespace OpenReplica.Chaos;

/// <summary>The markdown table of a run: one row per cell and workload.</summary>
internal sealed class ResultTable(int seed)
{
    private readonly StringBuilder _rows = new();

    /// <summary>A violation, an error or a check that could not finish.</summary>
    public bool Failed { get; private set; }

    public void Add(CellReport report)
    {
        string I(FormattableString s) => s.ToString(CultureInfo.InvariantCulture);
        if (report.Skipped is { } why)
        {
            _rows.AppendLine(I($"| {report.Nemesis} | {report.Membership} | – | – | – | – | – | skipped: {why} | – | – | {seed} |"));
            return;
        }
        int onLeader = report.Faults.Count(f => f.Fault.OnLeader);
        var recoveries = report.Faults.Where(f => f.Recovery is not null).Select(f => f.Recovery!.Value.TotalSeconds).ToList();
        string recovery = recoveries.Count == 0 ? "–" : I($"{recoveries.Max():0.0} s");
        foreach (var (workload, r) in report.Results)
        {
            if (r.Violation || r.Verdict == "error" || r.Verdict.StartsWith("unknown", StringComparison.Ordinal)) Failed = true;
            _rows.AppendLine(I($"| {report.Nemesis} | {report.Membership} | {workload} | {r.Operations} | {r.Ok} | {r.Failed} | {r.Unknown} | {r.Verdict} | {onLeader}/{report.Faults.Count} | {recovery} | {seed} |"));
        }
    }

    public string Markdown() =>
        "| Nemesis | Membership | Workload | Operations | ok | failed | unknown | Verdict | Faults on leader | Max recovery | Seed |\n" +
        "|---|---|---|---:|---:|---:|---:|---|---:|---:|---:|\n" + _rows;
}

using System.Globalization;
using ScottPlot;
using ScottPlot.TickGenerators;

namespace OpenReplica.LoadTest;

/// <summary>
/// The PNG beside the doc: throughput and p99 latency by caller count for writes spread over the grains (keys), one
/// line per system. Both axes logarithmic: the systems differ by orders of magnitude, and so do the caller counts.
/// </summary>
internal static class Chart
{
    public static void Write(RunReport report, string path)
    {
        var cells = report.Cells
            .Where(c => c.Spec.Workload == Workload.Write && c.Spec.Grains == report.Grains && c.Spec.IdleGrains == 0 && c.Ops > 0)
            .GroupBy(c => c.Spec.Scenario)
            .Where(g => g.Count() > 1)
            .OrderBy(g => g.Key)
            .ToList();
        var multiplot = new Multiplot();
        multiplot.AddPlots(2);
        multiplot.Layout = new ScottPlot.MultiplotLayouts.Columns();
        var throughput = multiplot.GetPlot(0);
        var p99 = multiplot.GetPlot(1);
        int[] callerCounts = [.. cells.SelectMany(g => g.Select(c => c.Spec.Callers)).Distinct().Order()];
        foreach (var group in cells)
        {
            var points = group.OrderBy(c => c.Spec.Callers).ToArray();
            double[] xs = [.. points.Select(c => Math.Log2(c.Spec.Callers))];
            var line = throughput.Add.Scatter(xs, [.. points.Select(c => Math.Log10(c.Throughput))]);
            line.LegendText = Scenarios.Name(group.Key);
            var latency = p99.Add.Scatter(xs, [.. points.Select(c => Math.Log10(c.P99Ms))]);
            latency.Color = line.Color;
        }
        string suffix = report.Quick ? " (quick run)" : "";
        var all = cells.SelectMany(g => g).ToArray();
        Style(throughput, $"Writes over {report.Grains:N0} grains/keys: throughput{suffix}", "ops/s (log)", callerCounts,
            [.. all.Select(c => Math.Log10(c.Throughput))], v => v.ToString("N0", CultureInfo.InvariantCulture));
        Style(p99, $"Writes over {report.Grains:N0} grains/keys: p99 latency{suffix}", "p99 ms (log)", callerCounts,
            [.. all.Select(c => Math.Log10(c.P99Ms))], v => v.ToString(v < 1 ? "0.##" : "N0", CultureInfo.InvariantCulture));
        throughput.ShowLegend(Alignment.LowerRight);
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        multiplot.SavePng(path, 1400, 600);
    }

    private static void Style(Plot plot, string title, string yLabel, int[] callerCounts, double[] logValues, Func<double, string> format)
    {
        plot.Title(title);
        plot.XLabel("concurrent callers (log)");
        plot.YLabel(yLabel);
        var xTicks = new NumericManual();
        foreach (int c in callerCounts) xTicks.AddMajor(Math.Log2(c), c.ToString(CultureInfo.InvariantCulture));
        plot.Axes.Bottom.TickGenerator = xTicks;
        // Values are plotted as log10; label 1, 2 and 5 times each power of ten inside the data's range.
        var finite = logValues.Where(double.IsFinite).DefaultIfEmpty(0).ToArray();
        double low = finite.Min(), high = finite.Max();
        var yTicks = new NumericManual();
        for (int decade = (int)Math.Floor(low); decade <= (int)Math.Ceiling(high); decade++)
        {
            foreach (double m in new[] { 1.0, 2.0, 5.0 })
            {
                double y = decade + Math.Log10(m);
                if (y >= low - 0.15 && y <= high + 0.15) yTicks.AddMajor(y, format(Math.Pow(10, y)));
            }
        }
        plot.Axes.Left.TickGenerator = yTicks;
        plot.Axes.Margins(0.08, 0.12);
    }
}

namespace OpenReplica.LoadTest.Scale;

/// <summary>One grain's long log and the latency of the first call after each forced deactivation (that call replays it).</summary>
internal sealed record ReactivationResult(
    string Label,
    int SnapshotEveryCommands,
    long Writes,
    long Slots,
    TimeSpan WriteTook,
    long DiskBytes,
    IReadOnlyList<double> FirstCallMs,
    string? Problem)
{
    public double MedianMs => Percentile(0.5);

    public double MinMs => FirstCallMs.Count == 0 ? double.NaN : FirstCallMs.Min();

    public double MaxMs => FirstCallMs.Count == 0 ? double.NaN : FirstCallMs.Max();

    private double Percentile(double p)
    {
        if (FirstCallMs.Count == 0) return double.NaN;
        var sorted = FirstCallMs.Order().ToArray();
        double rank = p * (sorted.Length - 1);
        int low = (int)Math.Floor(rank);
        int high = (int)Math.Ceiling(rank);
        return sorted[low] + (sorted[high] - sorted[low]) * (rank - low);
    }
}

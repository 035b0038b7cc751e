namespace OpenReplica.LoadTest.ScaleOut;

/// <summary>A count per silo against the even share: min, max, mean and the largest deviation from even.</summary>
internal sealed record Balance(string What, IReadOnlyList<int> Counts, double Even)
{
    public int Min => Counts.Count == 0 ? 0 : Counts.Min();

    public int Max => Counts.Count == 0 ? 0 : Counts.Max();

    public double Mean => Counts.Count == 0 ? 0 : Counts.Average();

    /// <summary>Largest |count − even| / even, in percent.</summary>
    public double MaxDeviationPercent => Counts.Count == 0 || Even <= 0 ? double.NaN : Counts.Max(c => Math.Abs(c - Even)) / Even * 100;

    public bool WithinPercent(double percent) => Counts.Count > 0 && MaxDeviationPercent <= percent;
}

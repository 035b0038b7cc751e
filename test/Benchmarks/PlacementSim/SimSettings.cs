namespace OpenReplica.PlacementSim;

/// <summary>What one simulated day looks like (all from the command line; the seed makes a run repeat exactly).</summary>
internal sealed record SimSettings(
    int Silos,
    long Grains,
    int Sample,
    int Domains,
    int Replicas,
    ulong Seed,
    int Hours,
    int EventsPerHour,
    double BandwidthMBps,
    int GroupBytes)
{
    /// <summary>How many grains each simulated one stands for.</summary>
    public double Scale => (double)Grains / Sample;

    public void Validate()
    {
        if (Silos < Replicas) throw new ArgumentException($"--silos ({Silos}) must be at least --replicas ({Replicas}).");
        if (Replicas is not (3 or 5 or 7)) throw new ArgumentException($"--replicas is {Replicas}; it must be 3, 5 or 7.");
        if (Sample < 1 || Sample > Grains) throw new ArgumentException($"--sample ({Sample}) must be between 1 and --grains ({Grains}).");
        if (Domains < 1 || Domains > Silos) throw new ArgumentException($"--domains ({Domains}) must be between 1 and --silos ({Silos}).");
        if (Hours < 1 || EventsPerHour < 0) throw new ArgumentException("--hours must be at least 1 and --events-per-hour not negative.");
        if (BandwidthMBps <= 0 || GroupBytes < 1) throw new ArgumentException("--bandwidth-mbps and --group-bytes must be positive.");
    }
}

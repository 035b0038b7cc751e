namespace OpenReplica.LoadTest.Scale;

/// <summary>One fleet of grains created, deactivated and weighed (heap of the whole process, disk of its data directories).</summary>
internal sealed record IdleMemoryResult(
    string Label,
    int Grains,
    int ActivatedSeen,
    TimeSpan CreateTook,
    TimeSpan DeactivateTook,
    int LeftActive,
    long HeapBefore,
    long HeapActive,
    long HeapIdle,
    long DiskBefore,
    long DiskIdle,
    long? GroupsBefore,
    long? GroupsIdle,
    long? WalResidentIdle,
    double IdleCpuPercent,
    double IdleMessagesPerSecond)
{
    /// <summary>
    /// Grains actually activated (the silos' count after creation): creation is bounded in time, and a grain whose
    /// call did not run within the bound costs nothing.
    /// </summary>
    public int Measured => ActivatedSeen > 0 ? ActivatedSeen : Grains;

    public double ActiveBytesPerGrain => (HeapActive - HeapBefore) / (double)Measured;

    public double IdleBytesPerGrain => (HeapIdle - HeapBefore) / (double)Measured;

    public double DiskBytesPerGrain => (DiskIdle - DiskBefore) / (double)Measured;

    public long? GroupsAdded => GroupsIdle - GroupsBefore;
}

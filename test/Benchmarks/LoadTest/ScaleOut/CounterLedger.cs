namespace OpenReplica.LoadTest.ScaleOut;

/// <summary>
/// The replicated counter grains of one phase and, per grain, the increments the callers saw acknowledged and the
/// calls that failed (whose outcome the caller cannot know). Every grain's counter must end at its acknowledged
/// count, plus at most its failed calls.
/// </summary>
internal sealed class CounterLedger
{
    private readonly ICounterGrain[] _grains;
    private readonly long[] _acknowledged;
    private readonly long[] _failed;

    public CounterLedger(IClusterClient client, string prefix, int count)
    {
        Keys = [.. Enumerable.Range(0, count).Select(i => $"{prefix}-{i}")];
        _grains = [.. Keys.Select(k => client.GetGrain<ICounterGrain>(k, GrainClasses.Replicated))];
        _acknowledged = new long[count];
        _failed = new long[count];
    }

    public IReadOnlyList<string> Keys { get; }

    public int Count => _grains.Length;

    public ICounterGrain Grain(int index) => _grains[index];

    public void Acknowledged(int index) => Interlocked.Increment(ref _acknowledged[index]);

    public void Failed(int index) => Interlocked.Increment(ref _failed[index]);

    public long AcknowledgedOf(int index) => Interlocked.Read(ref _acknowledged[index]);

    public long FailedOf(int index) => Interlocked.Read(ref _failed[index]);

    public long TotalAcknowledged => _acknowledged.Sum();

    /// <summary>
    /// One increment per grain (64 at a time), recorded in the ledger; returns how many failed. Stops starting calls
    /// once <paramref name="bound"/> has passed (the grains not written then count as failures).
    /// </summary>
    public async Task<int> WriteEachOnceAsync(TimeSpan bound)
    {
        int failures = 0;
        var deadline = DateTime.UtcNow + bound;
        await Parallel.ForEachAsync(Enumerable.Range(0, Count), new ParallelOptions { MaxDegreeOfParallelism = 64 }, async (i, _) =>
        {
            if (DateTime.UtcNow > deadline)
            {
                Interlocked.Increment(ref failures);
                return;
            }
            try
            {
                await _grains[i].Increment();
                Acknowledged(i);
            }
            catch (Exception)
            {
                Failed(i);
                Interlocked.Increment(ref failures);
            }
        });
        return failures;
    }
}

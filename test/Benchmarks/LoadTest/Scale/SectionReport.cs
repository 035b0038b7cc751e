namespace OpenReplica.LoadTest.Scale;

/// <summary>What every generated section's report keeps besides its tables: notes, and how long the run took and how loaded the machine was at its end.</summary>
internal abstract class SectionReport
{
    public List<string> Notes { get; } = [];

    protected TimeSpan Elapsed { get; private set; }

    protected string LoadAverageEnd { get; private set; } = "";

    public void Finish(TimeSpan elapsed, string loadAverageEnd)
    {
        Elapsed = elapsed;
        LoadAverageEnd = loadAverageEnd;
    }
}

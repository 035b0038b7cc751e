using System.Diagnostics;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// How long each step of one group's move took (configuration chosen, in force, new member caught up), for the
/// rebalancer's Debug log: what limits the rate of moves is read from here.
/// </summary>
internal sealed class MovePhases
{
    private readonly long _started = Stopwatch.GetTimestamp();
    private readonly List<string> _marks = [];
    private long _last = Stopwatch.GetTimestamp();

    public void Mark(string phase)
    {
        long now = Stopwatch.GetTimestamp();
        _marks.Add($"{phase} +{Stopwatch.GetElapsedTime(_last, now).TotalMilliseconds:0} ms");
        _last = now;
    }

    /// <summary>Time since the move started.</summary>
    public TimeSpan Elapsed => Stopwatch.GetElapsedTime(_started);

    public override string ToString() =>
        $"{Stopwatch.GetElapsedTime(_started).TotalMilliseconds:0} ms: {string.Join(", ", _marks)}";
}

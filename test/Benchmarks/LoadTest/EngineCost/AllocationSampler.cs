using System.Collections.Concurrent;
using System.Diagnostics.Tracing;

namespace OpenReplica.LoadTest.EngineCost;

/// <summary>
/// Which types a run allocates, from the runtime's own sampling: the GC raises an AllocationTick event about every
/// 100 KB allocated, naming the type of the object that crossed the mark, so each type's share of the ticks is its
/// share of the bytes (roughly: large, rare objects are under-sampled less than their size says). For the
/// <c>engine</c> subcommand's <c>--allocations</c> option: it finds what a change should cut.
/// </summary>
internal sealed class AllocationSampler : EventListener
{
    private const EventKeywords GcKeyword = (EventKeywords)0x1;
    private readonly ConcurrentDictionary<string, long> _ticks = new();
    private volatile bool _on;

    public void Start() => _on = true;

    public void Stop() => _on = false;

    protected override void OnEventSourceCreated(EventSource source)
    {
        if (source.Name == "Microsoft-Windows-DotNETRuntime") EnableEvents(source, EventLevel.Verbose, GcKeyword);
    }

    protected override void OnEventWritten(EventWrittenEventArgs e)
    {
        if (!_on || !e.EventName!.StartsWith("GCAllocationTick", StringComparison.Ordinal) || e.Payload is null) return;
        int index = e.PayloadNames!.IndexOf("TypeName");
        if (index >= 0 && e.Payload[index] is string type) _ticks.AddOrUpdate(type, 1, (_, n) => n + 1);
    }

    /// <summary>The <paramref name="top"/> types by ticks, with their share of all ticks.</summary>
    public string Report(int top)
    {
        long total = _ticks.Values.Sum();
        if (total == 0) return "no allocation ticks were sampled";
        var lines = _ticks.OrderByDescending(p => p.Value).Take(top).Select(p => $"  {100.0 * p.Value / total,5:0.0} %  {p.Key}");
        return $"allocations by type ({total:N0} ticks of ~100 KB):\n" + string.Join('\n', lines);
    }
}

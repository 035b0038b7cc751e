namespace OpenReplica.Storage;

/// <summary>
/// Bytes of retained records per segment. Resident groups report every record that becomes or stops being
/// retained; a cold group's records do not change while it is cold, so the tally stays exact without its index.
/// Reclamation picks segments from it instead of walking every group. Not thread-safe: owners lock around it.
/// </summary>
internal sealed class LiveTally
{
    private readonly Dictionary<long, long> _bytes = [];

    public long this[long segment] => _bytes.GetValueOrDefault(segment);

    public void Add(RecordLocation? location, int sign)
    {
        if (location is { } l)
        {
            _bytes[l.Segment] = _bytes.GetValueOrDefault(l.Segment) + sign * (long)l.Length;
        }
    }

    public void Forget(long segment) => _bytes.Remove(segment);
}

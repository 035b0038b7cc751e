namespace OpenReplica.Storage;

/// <summary>
/// The records of the head segment (the one being appended to) by group, so a cold group's newest records are found
/// without reading the segment. Bounded by the segment's size; written out as a <see cref="SegmentIndexFile"/> and
/// dropped when the segment is sealed. Each group's records form a chain, newest first, through one array of
/// structs: no object per group or per record. Not thread-safe: owners lock around it.
/// </summary>
internal sealed class HeadIndex
{
    private readonly Dictionary<GroupKey, int> _newest = [];
    private Node[] _nodes = new Node[256];
    private int _count;

    public int Count => _count;

    public void Add(GroupKey key, SegmentEntry entry)
    {
        if (_count == _nodes.Length)
        {
            Array.Resize(ref _nodes, _nodes.Length * 2);
        }

        int previous = _newest.TryGetValue(key, out int newest) ? newest : -1;
        _nodes[_count] = new Node(entry.Lsn, entry.Slot, entry.Offset, entry.Length, previous, entry.Kind);
        _newest[key] = _count++;
    }

    /// <summary>Appends the group's records in this segment to <paramref name="into"/>, oldest first.</summary>
    public void Collect(GroupKey key, List<SegmentEntry> into)
    {
        int start = into.Count;
        for (int i = _newest.GetValueOrDefault(key, -1); i >= 0; i = _nodes[i].Previous)
        {
            into.Add(_nodes[i].Entry);
        }

        into.Reverse(start, into.Count - start);
    }

    /// <summary>Every group with records here and its records, newest first.</summary>
    public IEnumerable<(GroupKey Key, SegmentEntry Entry)> All()
    {
        foreach ((GroupKey key, int newest) in _newest)
        {
            for (int i = newest; i >= 0; i = _nodes[i].Previous)
            {
                yield return (key, _nodes[i].Entry);
            }
        }
    }

    // Flat rather than holding a SegmentEntry: 32 bytes instead of 40 (the kind packs after the three ints).
    private readonly record struct Node(long Lsn, long Slot, int Offset, int Length, int Previous, WalRecordKind Kind)
    {
        public SegmentEntry Entry => new(Lsn, Kind, Slot, Offset, Length);
    }
}

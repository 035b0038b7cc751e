namespace OpenReplica.Storage;

/// <summary>
/// A group's live slot records (slot → location), sized for idle groups: most groups on a silo are idle with one or
/// a few live entries (a grain written once, a follower compacted to the leader's snapshot), so the first location is
/// held inline and a dictionary exists only from the second on. A mutable struct: keep it in a non-readonly field.
/// </summary>
internal struct SlotLocations
{
    private SlotKey _key;
    private RecordLocation _location;
    private bool _hasOne;
    private Dictionary<SlotKey, RecordLocation>? _many;

    public readonly int Count => _many?.Count ?? (_hasOne ? 1 : 0);

    public readonly bool TryGetValue(SlotKey key, out RecordLocation location)
    {
        if (_many is not null) return _many.TryGetValue(key, out location);
        location = _location;
        return _hasOne && _key == key;
    }

    public void Set(SlotKey key, RecordLocation location)
    {
        if (_many is not null)
        {
            _many[key] = location;
        }
        else if (!_hasOne || _key == key)
        {
            (_key, _location, _hasOne) = (key, location, true);
        }
        else
        {
            _many = new Dictionary<SlotKey, RecordLocation> { [_key] = _location, [key] = location };
            _hasOne = false;
        }
    }

    /// <summary>Removes every location <paramref name="remove"/> selects; back to inline once one or none is left.</summary>
    public void RemoveWhere(Func<SlotKey, RecordLocation, bool> remove)
    {
        if (_many is null)
        {
            if (_hasOne && remove(_key, _location)) _hasOne = false;
            return;
        }
        foreach (var (key, location) in _many.Where(p => remove(p.Key, p.Value)).ToList()) _many.Remove(key);
        if (_many.Count > 1) return;
        var many = _many;
        _many = null;
        _hasOne = false;
        foreach (var (key, location) in many) Set(key, location);
    }
}

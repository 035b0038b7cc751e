namespace OpenReplica.Storage;

/// <summary>
/// The retention state of the groups resident in memory. The running log keeps only the groups in use here (the
/// rest are cold: found on disk through the segments' indexes when needed); recovery and the inspector keep
/// every group. Not thread-safe: owners lock around it.
/// </summary>
internal sealed class RetentionIndex(int bound = int.MaxValue)
{
    private readonly Dictionary<GroupKey, GroupState> _groups = [];
    private readonly HashSet<GroupKey> _pinned = [];
    private long _clock;

    public IReadOnlyCollection<GroupState> Groups => _groups.Values;

    public int Count => _groups.Count;

    public GroupState GetOrAdd(string groupId) => GetOrAdd(groupId, GroupKey.Of(groupId));

    public GroupState GetOrAdd(string groupId, GroupKey key)
    {
        if (!_groups.TryGetValue(key, out GroupState? state))
        {
            state = new GroupState(groupId, key);
            _groups.Add(key, state);
        }

        state.LastUsed = ++_clock;
        Trim();
        return state;
    }

    public GroupState? Find(string groupId) => Find(GroupKey.Of(groupId));

    public GroupState? Find(GroupKey key)
    {
        if (_groups.TryGetValue(key, out GroupState? state))
        {
            state.LastUsed = ++_clock;
        }

        return state;
    }

    /// <summary>Makes a state built from disk resident.</summary>
    public void Add(GroupState state)
    {
        state.LastUsed = ++_clock;
        _groups[state.Key] = state;
        Trim();
    }

    /// <summary>Drops a group that has nothing left, so deleted groups do not leak memory.</summary>
    public void RemoveIfEmpty(GroupState state)
    {
        if (state.IsEmpty)
        {
            _groups.Remove(state.Key);
        }
    }

    /// <summary>Drops the group's state from memory (it is rebuilt from disk when needed again), unless it is pinned.</summary>
    public bool Release(GroupKey key) => !_pinned.Contains(key) && _groups.Remove(key);

    /// <summary>
    /// Keeps the groups resident until <see cref="Unpin"/>: reclamation judges a segment's records under one state
    /// object per group and moves them later, so no second object may be built from disk in between.
    /// </summary>
    public void Pin(GroupKey key) => _pinned.Add(key);

    public void Unpin(IEnumerable<GroupKey> keys)
    {
        _pinned.ExceptWith(keys);
        Trim();
    }

    /// <summary>
    /// Keeps at most <c>bound</c> states (pinned ones aside): beyond it the least recently used quarter of the bound
    /// leaves memory at once, so the sort this takes is paid once per bound/4 new groups. The state just handed out
    /// is the most recently used, so callers never lose the one they hold.
    /// </summary>
    private void Trim()
    {
        if (_groups.Count <= bound)
        {
            return;
        }

        int keep = bound - bound / 4;
        foreach (GroupState state in _groups.Values.Where(s => !_pinned.Contains(s.Key)).OrderBy(s => s.LastUsed).Take(_groups.Count - keep).ToList())
        {
            _groups.Remove(state.Key);
        }
    }
}

namespace OpenReplica.Storage;

/// <summary>The retention state of every group known to the log. Not thread-safe: owners lock around it.</summary>
internal sealed class RetentionIndex
{
    private readonly Dictionary<string, GroupState> _groups = new(StringComparer.Ordinal);

    public IReadOnlyCollection<GroupState> Groups => _groups.Values;

    public GroupState GetOrAdd(string groupId)
    {
        if (!_groups.TryGetValue(groupId, out GroupState? state))
        {
            state = new GroupState(groupId);
            _groups.Add(groupId, state);
        }

        return state;
    }

    public GroupState? Find(string groupId) => _groups.GetValueOrDefault(groupId);

    /// <summary>Drops a group that has nothing left, so deleted groups do not leak memory.</summary>
    public void RemoveIfEmpty(GroupState state)
    {
        if (state.IsEmpty)
        {
            _groups.Remove(state.GroupId);
        }
    }
}

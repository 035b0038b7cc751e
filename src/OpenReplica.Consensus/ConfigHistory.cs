namespace OpenReplica.Consensus;

/// <summary>
/// Which configuration is in force at which slot. A config chosen at slot s is in force from slot s + window,
/// so the configuration of every slot up to commit + window is known from the chosen log alone.
/// Every epoch is a fact learned from a chosen log. A replica that starts from a peer's view (a silo added to an
/// existing group) knows the group only from that peer's first epoch on (<see cref="KnownFrom"/>); the entries it
/// then replays insert the older configurations before the ones it knows, never on top of them, so its newest
/// configuration never goes back while it catches up. Immutable: every change returns a new history.
/// </summary>
public sealed class ConfigHistory
{
    // (first slot in force, config), ordered by slot; the first element is in force from slot 1 (or earlier).
    private readonly (long FromSlot, ClusterConfig Config)[] _epochs;

    private ConfigHistory((long, ClusterConfig)[] epochs) => _epochs = epochs;

    /// <summary>A history with one configuration, in force from slot 1.</summary>
    public static ConfigHistory Start(ClusterConfig config) => new([(1, config)]);

    /// <summary>A history from its epochs (first slot in force, configuration), as stored in a snapshot; at least one.</summary>
    public static ConfigHistory FromEpochs(IEnumerable<(long FromSlot, ClusterConfig Config)> epochs)
    {
        var list = epochs.OrderBy(e => e.FromSlot).ToArray();
        Invariant.Assert(list.Length > 0);
        return new ConfigHistory(list);
    }

    /// <summary>
    /// The first slot whose configuration this history knows. 1 for a group's genesis history; for a history taken
    /// from a peer's view or trimmed at a snapshot, later. <see cref="At"/> answers the first epoch's configuration
    /// for earlier slots, which only stands in: a replica must not lead from a slot below it (its quorums there are unknown).
    /// </summary>
    public long KnownFrom => _epochs[0].FromSlot;

    /// <summary>
    /// The first slot from which <paramref name="member"/> has been a member without a break up to the newest
    /// configuration: the first slot of the last run of epochs naming it. A replica of that member started from this
    /// history (a peer's view) votes from there on (<see cref="PaxosReplica.VoteFloor"/>): an earlier replica of the
    /// same member, which its silo dropped when the group left it, may have voted below, and those votes are gone.
    /// The slot after the newest configuration's first when that one does not name <paramref name="member"/>.
    /// </summary>
    public long MemberSince(long member)
    {
        if (!_epochs[^1].Config.Contains(member)) return _epochs[^1].FromSlot + 1;
        int first = _epochs.Length - 1;
        while (first > 0 && _epochs[first - 1].Config.Contains(member)) first--;
        return _epochs[first].FromSlot;
    }

    /// <summary>Every epoch, ordered by the first slot it is in force from.</summary>
    public IReadOnlyList<(long FromSlot, ClusterConfig Config)> Epochs => _epochs;

    /// <summary>The configuration in force at <paramref name="slot"/>.</summary>
    public ClusterConfig At(long slot)
    {
        ClusterConfig current = _epochs[0].Config;
        foreach (var (from, config) in _epochs)
        {
            if (from > slot) break;
            current = config;
        }
        return current;
    }

    /// <summary>The newest configuration known, possibly not yet in force.</summary>
    public ClusterConfig Latest => _epochs[^1].Config;

    /// <summary>The slot from which <see cref="Latest"/> is in force.</summary>
    public long LatestFromSlot => _epochs[^1].FromSlot;

    /// <summary>
    /// A new history in which <paramref name="config"/> (chosen at <paramref name="fromSlot"/> minus the window) is
    /// in force from <paramref name="fromSlot"/>. Normally after every known epoch; a replica that knows newer epochs
    /// from a peer's view and replays older entries inserts them in slot order. An epoch known already must be the
    /// same configuration: two different ones for one slot would mean two values chosen for one slot.
    /// </summary>
    public ConfigHistory Add(long fromSlot, ClusterConfig config)
    {
        Invariant.Assert(fromSlot >= 1);
        if (fromSlot > _epochs[^1].FromSlot) return new ConfigHistory([.. _epochs, (fromSlot, config)]);
        int at = Array.FindIndex(_epochs, e => e.FromSlot >= fromSlot);
        if (_epochs[at].FromSlot == fromSlot)
        {
            Invariant.Assert(_epochs[at].Config.Equals(config));
            return this;
        }
        return new ConfigHistory([.. _epochs[..at], (fromSlot, config), .. _epochs[at..]]);
    }

    /// <summary>
    /// This history (a snapshot's) followed by the epochs of <paramref name="known"/> newer than its newest: a replica
    /// that installs a snapshot older than what it already knew of the group keeps what it knew.
    /// </summary>
    public ConfigHistory ThenNewerOf(ConfigHistory known)
    {
        long last = _epochs[^1].FromSlot;
        var newer = known._epochs.Where(e => e.FromSlot > last).ToArray();
        return newer.Length == 0 ? this : new ConfigHistory([.. _epochs, .. newer]);
    }

    /// <summary>Every distinct member of the configurations in force over [fromSlot, toSlot].</summary>
    public IEnumerable<long> MembersBetween(long fromSlot, long toSlot)
    {
        // One configuration over the whole range (nearly always): its members, sorted and distinct already.
        if (!HasEpochIn(fromSlot, toSlot)) return At(fromSlot).Members;
        var members = new SortedSet<long>(At(fromSlot).Members);
        foreach (var (from, config) in _epochs)
        {
            if (from > fromSlot && from <= toSlot) members.UnionWith(config.Members);
        }
        return members;
    }

    /// <summary>Whether a configuration comes into force in (<paramref name="fromSlot"/>, <paramref name="toSlot"/>].</summary>
    private bool HasEpochIn(long fromSlot, long toSlot)
    {
        foreach (var (from, _) in _epochs)
        {
            if (from > fromSlot && from <= toSlot) return true;
        }
        return false;
    }

    /// <summary>Configurations in force somewhere over [fromSlot, toSlot].</summary>
    public IEnumerable<ClusterConfig> ConfigsBetween(long fromSlot, long toSlot)
    {
        yield return At(fromSlot);
        foreach (var (from, config) in _epochs)
        {
            if (from > fromSlot && from <= toSlot) yield return config;
        }
    }

    /// <summary>Drops epochs that no slot after <paramref name="slot"/> can use.</summary>
    public ConfigHistory TrimBefore(long slot)
    {
        int keepFrom = 0;
        for (int i = 0; i < _epochs.Length; i++)
        {
            if (_epochs[i].FromSlot <= slot) keepFrom = i;
        }
        return keepFrom == 0 ? this : new ConfigHistory(_epochs[keepFrom..]);
    }

    /// <summary>The epochs as <c>fromSlot:{members}</c>, for traces.</summary>
    public override string ToString() => string.Join(" ", _epochs.Select(e => $"{e.FromSlot}:{e.Config}"));
}

using System.Collections.Concurrent;
using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The groups this silo forgot (the group left it and the rebalancer dropped its replica), each with the slot from
/// which the newest configuration its replica knew (or the peer that said the group left knew) is in force. A silo that holds no replica of a group starts one at
/// the first message that names it, from the sender's newest configuration. A sender that lags names configurations
/// the group left long ago (docs/placement.md, "Session 8", point 3), which may name this silo again: a replica
/// started from such a view would be an empty acceptor of a configuration in which this silo's former replica voted,
/// and a campaign on that view could win a majority of such acceptors and choose a second value for a slot the group
/// had chosen (<c>ForgottenReplicaTests</c>). So a group this silo forgot is learned again only from a view newer than
/// the last one its replica knew: a move that adds this silo back chooses its configuration after the one that
/// removed it. One entry per group forgotten and not held again. A Persisted silo keeps the notes in its data
/// directory (<see cref="ForgottenGroupsJournal"/>), so they outlive a restart under the same identity; a Volatile
/// silo that restarts is a new replica, with no former votes to protect.
/// </summary>
internal sealed class ForgottenGroups(ForgottenGroupsJournal? journal = null, IReadOnlyDictionary<string, long>? notes = null)
{
    private readonly ConcurrentDictionary<string, long> _lastKnownFromSlot = new(notes ?? new Dictionary<string, long>());
    private readonly Lock _journalOrder = new(); // Persisted: a note's change and its journal record, one at a time

    /// <summary>The notes of a Persisted silo's data directory, kept there from now on.</summary>
    public static ForgottenGroups InDirectory(string directory)
    {
        var journal = ForgottenGroupsJournal.Open(directory, out var notes);
        return new ForgottenGroups(journal, notes);
    }

    /// <summary>Closes the journal (the silo stops); a later <see cref="Forgot"/> throws, so no replica is dropped unnoted.</summary>
    public void Close() => journal?.Dispose();

    /// <summary>Groups forgotten and not held again.</summary>
    public int Count => _lastKnownFromSlot.Count;

    /// <summary>
    /// Notes that this silo dropped its replica of <paramref name="groupId"/>, whose newest configuration was in force
    /// from <paramref name="latestFromSlot"/>; durable when it returns (the caller deletes the replica's records next).
    /// </summary>
    public void Forgot(string groupId, long latestFromSlot)
    {
        if (journal is null)
        {
            Raise(groupId, latestFromSlot);
            return;
        }
        // A note and its record change together: a "held" racing with it must not land on disk after it, nor before.
        lock (_journalOrder) journal.Forgot(groupId, Raise(groupId, latestFromSlot));
        if (journal.ShouldCompact(_lastKnownFromSlot.Count)) journal.Compact(() => new Dictionary<string, long>(_lastKnownFromSlot));
    }

    /// <summary>The group's note raised to <paramref name="slot"/> (a later note that knew less lowers nothing); returns it.</summary>
    private long Raise(string groupId, long slot) => _lastKnownFromSlot.AddOrUpdate(groupId, slot, (_, known) => Math.Max(known, slot));

    /// <summary>
    /// The configuration history to start replica <paramref name="me"/> of <paramref name="groupId"/> from, per the
    /// view of the peer whose message named the group; null when that view's newest configuration does not name
    /// <paramref name="me"/>, or when this silo forgot the group and the view is no newer than what its replica knew.
    /// </summary>
    public ConfigHistory? ConfigToLearn(string groupId, GroupStatus sender, long me)
    {
        if (!sender.Latest.Contains(me)) return null;
        if (_lastKnownFromSlot.TryGetValue(groupId, out long known) && sender.LatestFromSlot <= known) return null;
        return ConfigEpoch.History(sender.Epochs, sender.Latest, sender.LatestFromSlot);
    }

    /// <summary>The slot noted when this silo dropped its replica of the group; null when it holds one again or never did.</summary>
    public long? NoteOf(string groupId) => _lastKnownFromSlot.TryGetValue(groupId, out long slot) ? slot : null;

    /// <summary>Whether this silo dropped its replica of the group and holds none again.</summary>
    public bool Contains(string groupId) => _lastKnownFromSlot.ContainsKey(groupId);

    /// <summary>A replica of the group exists here again: from now on its own log says what it knows.</summary>
    public void Held(string groupId)
    {
        // Every birth passes here: only a group that had a note costs a journal record (and the lock).
        if (!_lastKnownFromSlot.ContainsKey(groupId)) return;
        if (journal is null)
        {
            _lastKnownFromSlot.TryRemove(groupId, out _);
            return;
        }
        lock (_journalOrder)
        {
            if (_lastKnownFromSlot.TryRemove(groupId, out _)) journal.Held(groupId);
        }
    }
}

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
/// silo that restarts is a new replica, with no former votes to protect. Each note also keeps what the dropped replica
/// promised and held (<see cref="FormerReplica"/>): a replica the group adds back starts with that promise and votes
/// only above those slots, since the old one may have voted in the configuration that added it back before it was dropped.
/// </summary>
internal sealed class ForgottenGroups(ForgottenGroupsJournal? journal = null, IReadOnlyDictionary<string, ForgottenNote>? notes = null)
{
    private readonly ConcurrentDictionary<string, ForgottenNote> _notes = new(notes ?? new Dictionary<string, ForgottenNote>());
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
    public int Count => _notes.Count;

    /// <summary>
    /// Notes that this silo dropped its replica of <paramref name="groupId"/>, whose newest configuration was in force
    /// from <paramref name="latestFromSlot"/> and which left <paramref name="former"/>; durable when it returns (the
    /// caller deletes the replica's records next).
    /// </summary>
    public void Forgot(string groupId, long latestFromSlot, FormerReplica former = default)
    {
        var note = new ForgottenNote(latestFromSlot, former);
        if (journal is null)
        {
            Raise(groupId, note);
            return;
        }
        // A note and its record change together: a "held" racing with it must not land on disk after it, nor before.
        lock (_journalOrder) journal.Forgot(groupId, Raise(groupId, note));
        if (journal.ShouldCompact(_notes.Count)) journal.Compact(() => new Dictionary<string, ForgottenNote>(_notes));
    }

    /// <summary>The group's note raised to <paramref name="note"/> (a later note that knew less lowers nothing); returns it.</summary>
    private ForgottenNote Raise(string groupId, ForgottenNote note) => _notes.AddOrUpdate(groupId, note, (_, known) => known.Max(note));

    /// <summary>
    /// The configuration history to start replica <paramref name="me"/> of <paramref name="groupId"/> from, per the
    /// view of the peer whose message named the group; null when that view's newest configuration does not name
    /// <paramref name="me"/>, or when this silo forgot the group and the view is no newer than what its replica knew.
    /// </summary>
    public ConfigHistory? ConfigToLearn(string groupId, GroupStatus sender, long me)
    {
        if (!sender.Latest.Contains(me)) return null;
        if (_notes.TryGetValue(groupId, out var known) && sender.LatestFromSlot <= known.LatestFromSlot) return null;
        return ConfigEpoch.History(sender.Epochs, sender.Latest, sender.LatestFromSlot);
    }

    /// <summary>The note made when this silo dropped its replica of the group; null when it holds one again or never did.</summary>
    public ForgottenNote? NoteOf(string groupId) => _notes.TryGetValue(groupId, out var note) ? note : null;

    /// <summary>Whether this silo dropped its replica of the group and holds none again.</summary>
    public bool Contains(string groupId) => _notes.ContainsKey(groupId);

    /// <summary>A replica of the group exists here again: from now on its own log says what it knows.</summary>
    public void Held(string groupId)
    {
        // Every birth passes here: only a group that had a note costs a journal record (and the lock).
        if (!_notes.ContainsKey(groupId)) return;
        if (journal is null)
        {
            _notes.TryRemove(groupId, out _);
            return;
        }
        lock (_journalOrder)
        {
            if (_notes.TryRemove(groupId, out _)) journal.Held(groupId);
        }
    }
}

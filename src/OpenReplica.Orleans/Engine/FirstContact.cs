using System.Collections.Concurrent;
using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The groups this silo is learning from a peer (a message named a group it holds no replica of, so it asks the
/// sender for the group's configuration before it starts one), with the messages that arrived meanwhile. They are
/// kept and handed to the new replica once it exists, instead of dropped: a joining silo receives every group that
/// moves, and each dropped first message (the leader's catch-up, its heartbeat or an accept) cost the move a
/// retransmission round. Holding a message back is the same as a network delay, so the protocol is unaffected.
/// Bounded: at most <see cref="MaxMessagesPerGroup"/> per group (later ones are dropped and retransmitted, as
/// before); the number of groups is bounded by the groups peers may name here (admission checks the replica set).
/// </summary>
internal sealed class FirstContact
{
    /// <summary>Messages kept per group being learned; a leader's first contact is a handful (catch-up, heartbeat, accepts).</summary>
    public const int MaxMessagesPerGroup = 32;

    private readonly ConcurrentDictionary<string, Held> _learning = new();

    /// <summary>Groups being learned now.</summary>
    public int Count => _learning.Count;

    /// <summary>Starts learning <paramref name="groupId"/>; false when it is being learned already.</summary>
    public bool TryStart(string groupId) => _learning.TryAdd(groupId, new Held());

    /// <summary>Keeps <paramref name="message"/> for the group's replica, if the group is being learned and has room.</summary>
    public void Hold(string groupId, Message message)
    {
        if (!_learning.TryGetValue(groupId, out var held)) return;
        lock (held)
        {
            if (!held.Finished && held.Messages.Count < MaxMessagesPerGroup) held.Messages.Add(message);
        }
    }

    /// <summary>Ends learning the group and returns what was kept for it (to deliver, or to drop when no replica was started).</summary>
    public IReadOnlyList<Message> Finish(string groupId)
    {
        if (!_learning.TryRemove(groupId, out var held)) return [];
        lock (held)
        {
            held.Finished = true; // a message that raced with the removal is dropped (retransmitted)
            return held.Messages;
        }
    }

    private sealed class Held
    {
        public List<Message> Messages { get; } = [];

        public bool Finished { get; set; }
    }
}

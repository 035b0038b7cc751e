using OpenReplica.Consensus;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Messages for groups whose replica is not in memory. Building such a replica reads its records from the WAL, and
/// inbound batches are delivered on the replica host's single turn: a load there held up every other batch and
/// request of the silo behind it (deliveries of 1-3 s each, and birth claims and status asks waiting as long, in a
/// rolling restart of thousands of groups, session 29). So such a message waits here while one of the silo's
/// loader threads (<paramref name="schedule"/>, a few dedicated threads: a load blocks on the disk and on the log's
/// lock, and thousands of them on the thread pool starved Orleans) builds the group's replica and hands it the
/// messages in arrival order; a message for the group that arrives meanwhile joins them, so the group sees its messages
/// in order. Holding a message back is a network delay to the protocol. Bounded: at most
/// <see cref="MaxMessagesPerGroup"/> per group wait (later ones are dropped, counted, and retransmitted by their senders).
/// </summary>
internal sealed class ColdDeliveries(Action<SiloAddress, string, Message> deliver, Action<string, Exception> failed, Action<Action> schedule)
{
    /// <summary>Messages kept per group while its replica is built (a move or a leader's first contact is a handful).</summary>
    public const int MaxMessagesPerGroup = 256;

    private readonly Lock _gate = new();
    private readonly Dictionary<string, List<(SiloAddress From, Message Message)>> _waiting = [];
    private int _groups; // _waiting.Count, readable without the lock (the common case: nothing waits)
    private long _dropped;

    /// <summary>Groups whose messages wait for their replica now.</summary>
    public int Count => Volatile.Read(ref _groups);

    /// <summary>Messages dropped because their group had <see cref="MaxMessagesPerGroup"/> waiting already.</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>
    /// Keeps <paramref name="message"/> behind the group's waiting messages if it has any (so it is not delivered
    /// before them); false when none wait (the caller delivers it).
    /// </summary>
    public bool TryJoin(SiloAddress from, string groupId, Message message)
    {
        if (Volatile.Read(ref _groups) == 0) return false;
        lock (_gate)
        {
            if (!_waiting.TryGetValue(groupId, out var waiting)) return false;
            Add(waiting, from, message);
            return true;
        }
    }

    /// <summary>Keeps the message and, unless a load of its group runs already, starts one off the caller's thread.</summary>
    public void Enqueue(SiloAddress from, string groupId, Message message)
    {
        lock (_gate)
        {
            if (_waiting.TryGetValue(groupId, out var waiting))
            {
                Add(waiting, from, message);
                return;
            }
            _waiting[groupId] = [(from, message)];
            _groups = _waiting.Count;
        }
        schedule(() => Drain(groupId));
    }

    private void Add(List<(SiloAddress, Message)> waiting, SiloAddress from, Message message)
    {
        if (waiting.Count < MaxMessagesPerGroup) waiting.Add((from, message));
        else Interlocked.Increment(ref _dropped);
    }

    /// <summary>Hands the group's waiting messages over, in order, until none is left; then the group leaves the table.</summary>
    private void Drain(string groupId)
    {
        while (true)
        {
            List<(SiloAddress From, Message Message)> batch;
            lock (_gate)
            {
                batch = _waiting[groupId];
                if (batch.Count == 0)
                {
                    _waiting.Remove(groupId);
                    _groups = _waiting.Count;
                    return;
                }
                _waiting[groupId] = [];
            }
            foreach (var (from, message) in batch)
            {
                try
                {
                    deliver(from, groupId, message);
                }
                catch (Exception e)
                {
                    // As a batch the sink failed on: dropped, and its sender retransmits.
                    failed(groupId, e);
                }
            }
        }
    }
}

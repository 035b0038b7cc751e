using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// Replies of applied commands per client, part of the replicated state (snapshotted and rebuilt by replay), so a
/// retried call is answered, not run again. A client's replies below its FirstUnacknowledged are dropped (it
/// promised never to retry them), and at most <see cref="MaxPerClient"/> are kept per client.
/// </summary>
internal sealed class ReplyTable
{
    public const int MaxPerClient = SessionTable.MaxSequencesPerClient;

    private readonly Dictionary<Guid, SortedDictionary<long, StoredReply>> _byClient = [];

    public bool TryGet(CommandId id, out StoredReply reply)
    {
        reply = null!;
        return _byClient.TryGetValue(id.ClientId, out var replies) && replies.TryGetValue(id.Sequence, out reply!);
    }

    /// <summary>Records what an applied command answered; a deferred reply is recorded as pending.</summary>
    public void Record(Command command, CommandOutcome outcome)
    {
        if (!_byClient.TryGetValue(command.ClientId, out var replies)) _byClient[command.ClientId] = replies = [];
        foreach (long old in replies.Keys.TakeWhile(s => s < command.FirstUnacknowledged).ToList()) replies.Remove(old);
        replies[command.Sequence] = outcome.Deferred
            ? new StoredReply { ClientId = command.ClientId, Sequence = command.Sequence, Pending = true }
            : new StoredReply { ClientId = command.ClientId, Sequence = command.Sequence, Result = outcome.Result, Exception = outcome.Exception };
        if (replies.Count > MaxPerClient) replies.Remove(replies.Keys.First());
    }

    /// <summary>A later command answered a deferred call: its retry now gets this reply.</summary>
    public void RecordCompletion(DeferredCompletion completion)
    {
        if (!_byClient.TryGetValue(completion.Call.ClientId, out var replies)) _byClient[completion.Call.ClientId] = replies = [];
        replies[completion.Call.Sequence] = new StoredReply
        {
            ClientId = completion.Call.ClientId, Sequence = completion.Call.Sequence, Result = completion.Result, Exception = completion.Exception,
        };
    }

    public List<StoredReply> ToList() => _byClient.Values.SelectMany(r => r.Values).ToList();

    public void Load(IEnumerable<StoredReply> replies)
    {
        _byClient.Clear();
        foreach (var r in replies)
        {
            if (!_byClient.TryGetValue(r.ClientId, out var forClient)) _byClient[r.ClientId] = forClient = [];
            forClient[r.Sequence] = r;
        }
    }
}

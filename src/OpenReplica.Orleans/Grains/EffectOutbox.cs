using System.IO.Hashing;
using System.Text;
using Orleans.Runtime;

namespace OpenReplica.Orleans;

/// <summary>
/// A replicated grain's outbox: the effects its calls declared (<see cref="ReplicatedContext.AfterCommit"/>) that no
/// <c>OnEffectAsync</c> has completed yet, as serialized bytes. It changes only in log order — an applied call adds
/// its effects, an applied completion record removes one — so every replica and every replay holds the same outbox;
/// snapshots carry it. Used on the activation's scheduler only.
/// </summary>
internal sealed class EffectOutbox
{
    private readonly SortedDictionary<long, byte[]> _pending = [];

    /// <summary>The sequence the next declared effect gets (sequences start at 1 and are never reused).</summary>
    public long NextSequence { get; private set; } = 1;

    public int Count => _pending.Count;

    /// <summary>Pending effects in the order they were declared.</summary>
    public IEnumerable<KeyValuePair<long, byte[]>> Pending => _pending;

    /// <summary>The lowest pending sequence, or <see cref="NextSequence"/>: every effect below it has completed.</summary>
    public long FirstPending => _pending.Count > 0 ? _pending.Keys.First() : NextSequence;

    public long Add(byte[] effect)
    {
        long sequence = NextSequence++;
        _pending[sequence] = effect;
        return sequence;
    }

    /// <summary>An effect completed (its record was applied). Idempotent: a second record for it changes nothing.</summary>
    public void Complete(long sequence) => _pending.Remove(sequence);

    public bool IsPending(long sequence) => _pending.ContainsKey(sequence);

    public byte[] Get(long sequence) => _pending[sequence];

    public List<OutboxRow> Save() => [.. _pending.Select(p => new OutboxRow { Sequence = p.Key, Effect = p.Value })];

    public void Load(IEnumerable<OutboxRow>? rows, long nextSequence)
    {
        _pending.Clear();
        foreach (var row in rows ?? []) _pending[row.Sequence] = row.Effect;
        NextSequence = Math.Max(1, nextSequence);
    }

    /// <summary>The effect's stable id: a hash of the grain and the sequence, the same in every activation.</summary>
    public static Guid IdOf(GrainId grain, long sequence) =>
        new(XxHash128.Hash(Encoding.UTF8.GetBytes($"openreplica-effect/{grain}/{sequence}")));
}

/// <summary>A pending effect in a snapshot.</summary>
[GenerateSerializer]
internal sealed class OutboxRow
{
    [Id(0)] public long Sequence { get; set; }
    [Id(1)] public byte[] Effect { get; set; } = [];
}

namespace OpenReplica.Orleans.Replication;

/// <summary>A grain's state machine at a slot: its serialized State and the replies kept for exactly-once retries.</summary>
[GenerateSerializer]
internal sealed class ReplicatedAppSnapshot
{
    [Id(0)] public byte[] State { get; set; } = [];
    [Id(1)] public List<StoredReply> Replies { get; set; } = [];

    /// <summary>The digest of State when saved (<see cref="OpenReplica.Orleans.StateDigest"/>); null in snapshots from before digests.</summary>
    [Id(2)] public ulong? StateDigest { get; set; }

    /// <summary>Commands applied since the log began: where the next divergence checkpoints fall.</summary>
    [Id(3)] public long CommandsApplied { get; set; }

    /// <summary>Outbox effects declared and not completed yet (null in snapshots from before the outbox).</summary>
    [Id(4)] public List<OutboxRow>? Outbox { get; set; }

    /// <summary>The sequence the next declared effect gets.</summary>
    [Id(5)] public long OutboxNextSequence { get; set; } = 1;
}

/// <summary>The outcome of an applied command, kept so that a retry with the same stamp gets it again.</summary>
[GenerateSerializer]
internal sealed class StoredReply
{
    [Id(0)] public Guid ClientId { get; set; }
    [Id(1)] public long Sequence { get; set; }
    [Id(2)] public object? Result { get; set; }
    [Id(3)] public Exception? Exception { get; set; }

    /// <summary>The call deferred its reply and no later command answered it yet: a retry waits.</summary>
    [Id(4)] public bool Pending { get; set; }

    public CommandOutcome ToOutcome() => new(Result, Exception);
}

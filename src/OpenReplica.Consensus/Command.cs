namespace OpenReplica.Consensus;

/// <summary>
/// A client command. (ClientId, Sequence) identifies it for exactly-once: a command whose identity was already
/// chosen is reported as a duplicate and must not be applied again. <see cref="FirstUnacknowledged"/> is the
/// client's promise that it will never retry a sequence below it, which lets the session table forget them.
/// A command with Sequence 0 has no identity and is never deduplicated (internal commands).
/// </summary>
public sealed record Command(Guid ClientId, long Sequence, long FirstUnacknowledged, byte[] Payload)
{
    public bool HasIdentity => Sequence > 0;

    public CommandId Id => new(ClientId, Sequence);

    public override string ToString() => $"cmd({ShortClient(ClientId)}#{Sequence}, {Payload.Length}B)";

    internal static string ShortClient(Guid id) => id.ToString("N")[..6];
}

/// <summary>The exactly-once identity of a command.</summary>
public readonly record struct CommandId(Guid ClientId, long Sequence)
{
    public override string ToString() => $"{Command.ShortClient(ClientId)}#{Sequence}";
}

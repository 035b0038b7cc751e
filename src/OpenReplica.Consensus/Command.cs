namespace OpenReplica.Consensus;

/// <summary>
/// A client command. (ClientId, Sequence) identifies it for exactly-once: a command whose identity was already
/// chosen is reported as a duplicate and must not be applied again. <see cref="FirstUnacknowledged"/> is the
/// client's promise that it will never retry a sequence below it, which lets the session table forget them.
/// A command with Sequence 0 has no identity and is never deduplicated (internal commands).
/// </summary>
public sealed record Command(Guid ClientId, long Sequence, long FirstUnacknowledged, byte[] Payload)
{
    /// <summary>Whether the command has an exactly-once identity (<c>Sequence</c> above 0); internal commands have none.</summary>
    public bool HasIdentity => Sequence > 0;

    /// <summary>The command's exactly-once identity (client id, sequence).</summary>
    public CommandId Id => new(ClientId, Sequence);

    /// <summary>A short form for traces: client prefix, sequence and payload size.</summary>
    public override string ToString() => $"cmd({ShortClient(ClientId)}#{Sequence}, {Payload.Length}B)";

    internal static string ShortClient(Guid id) => id.ToString("N")[..6];
}

/// <summary>The exactly-once identity of a command.</summary>
public readonly record struct CommandId(Guid ClientId, long Sequence)
{
    /// <summary>A short form for traces: <c>clientPrefix#sequence</c>.</summary>
    public override string ToString() => $"{Command.ShortClient(ClientId)}#{Sequence}";
}

namespace OpenReplica.Orleans;

/// <summary>
/// The deterministic environment of the command being executed: its log position, its timestamp as
/// <see cref="Now"/>, and randomness seeded from both. A method must use these instead of the clock,
/// <see cref="System.Random.Shared"/> or <see cref="Guid.NewGuid"/>: replay yields identical values.
/// Outside a command (in a read-only call) it describes the last command applied.
/// </summary>
public sealed class ReplicatedContext
{
    private ReplicatedRandom? _random;

    internal ReplicatedContext(CommandPosition position) => Position = position;

    internal static ReplicatedContext Initial { get; } = new(new CommandPosition(0, DateTimeOffset.UnixEpoch));

    /// <summary>The command's log slot.</summary>
    public long Slot => Position.Slot;

    /// <summary>The command's timestamp, chosen by the leader when it proposed the command.</summary>
    public DateTimeOffset Now => Position.Timestamp;

    /// <summary>Random numbers seeded by (slot, timestamp): the same sequence on every replica and on replay.</summary>
    public Random Random => _random ??= new ReplicatedRandom(Seed(Position));

    internal CommandPosition Position { get; }

    /// <summary>A version-4 Guid drawn from <see cref="Random"/>.</summary>
    public Guid NewGuid()
    {
        Span<byte> bytes = stackalloc byte[16];
        Random.NextBytes(bytes);
        bytes[7] = (byte)((bytes[7] & 0x0F) | 0x40); // version 4 (little-endian layout of Guid(ReadOnlySpan<byte>))
        bytes[8] = (byte)((bytes[8] & 0x3F) | 0x80); // RFC 4122 variant
        return new Guid(bytes);
    }

    private static ulong Seed(CommandPosition position) =>
        (ulong)position.Slot * 0x9E3779B97F4A7C15UL ^ (ulong)position.Timestamp.UtcTicks;
}

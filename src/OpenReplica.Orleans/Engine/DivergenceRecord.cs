using System.Buffers.Binary;
using System.Text;
using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The two log records of divergence detection, carried as commands of reserved client ids (so the session table
/// deduplicates them like any retried call, and a grain method can never be confused with them):
/// a checkpoint — "after the command at Position, the state digest was Digest" — written by the activation that
/// ran the calls, compared by every activation that replays past it; and an acceptance — an operator's decision
/// that the replayed state is the truth, which clears a mismatch found earlier in the log.
/// </summary>
internal static class DivergenceRecord
{
    public static readonly Guid CheckpointClient = new("0f1d6c1e-6a59-4f55-9a7e-2c0d9f6a0001");
    public static readonly Guid AcceptanceClient = new("0f1d6c1e-6a59-4f55-9a7e-2c0d9f6a0002");
    private const byte Version = 1;

    public static bool IsRecord(Command command) => command.ClientId == CheckpointClient || command.ClientId == AcceptanceClient;

    public static Command Checkpoint(long position, ulong digest)
    {
        var payload = new byte[1 + 8 + 8];
        payload[0] = Version;
        BinaryPrimitives.WriteInt64LittleEndian(payload.AsSpan(1), position);
        BinaryPrimitives.WriteUInt64LittleEndian(payload.AsSpan(9), digest);
        return new Command(CheckpointClient, position, position, payload);
    }

    public static (long Position, ulong Digest) ReadCheckpoint(Command command)
    {
        var payload = command.Payload;
        if (payload.Length != 17 || payload[0] != Version) throw new FormatException($"divergence checkpoint of {payload.Length} bytes, version {(payload.Length > 0 ? payload[0] : 0)}: not understood");
        return (BinaryPrimitives.ReadInt64LittleEndian(payload.AsSpan(1)), BinaryPrimitives.ReadUInt64LittleEndian(payload.AsSpan(9)));
    }

    /// <summary>An acceptance; <paramref name="sequence"/> must exceed every earlier acceptance's (a position after the last applied).</summary>
    public static Command Acceptance(long sequence, string reason) =>
        new(AcceptanceClient, sequence, sequence, [Version, .. Encoding.UTF8.GetBytes(reason)]);

    public static string ReadAcceptance(Command command) => Encoding.UTF8.GetString(command.Payload.AsSpan(1));
}

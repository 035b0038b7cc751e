using OpenReplica.Consensus;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// The log record "outbox effect N completed", written by the activation that ran the effect and applied by every
/// replay, so every replica's outbox forgets the effect at the same point of the log. A command of a reserved
/// client id (like <see cref="DivergenceRecord"/>): its sequence is the effect's, and its floor the lowest effect
/// still pending when it was written, so the session table stays small however many effects a grain runs.
/// </summary>
internal static class OutboxRecord
{
    public static readonly Guid EffectDoneClient = new("0f1d6c1e-6a59-4f55-9a7e-2c0d9f6a0003");
    private const byte Version = 1;

    public static bool IsRecord(Command command) => command.ClientId == EffectDoneClient;

    public static Command Done(long sequence, long firstPending) =>
        new(EffectDoneClient, sequence, Math.Min(firstPending, sequence), [Version]);

    public static long ReadDone(Command command)
    {
        if (command.Payload.Length != 1 || command.Payload[0] != Version)
        {
            throw new FormatException($"outbox record of {command.Payload.Length} bytes, version {(command.Payload.Length > 0 ? command.Payload[0] : 0)}: not understood");
        }
        return command.Sequence;
    }
}

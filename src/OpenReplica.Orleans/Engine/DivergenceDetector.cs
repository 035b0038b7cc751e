using OpenReplica.Consensus;
using Orleans.Runtime;

namespace OpenReplica.Orleans.Replication;

/// <summary>
/// One activation's divergence check. Every <see cref="DivergenceMonitor.DigestEveryCommands"/> applied commands
/// (counted over the whole log, so every activation picks the same commands) it takes the state's digest and keeps
/// it; the leading activation also writes it into the log as a checkpoint. When a checkpoint comes by in the log,
/// the digest this activation took at the same position must match: a later activation that replays the log
/// compares against what the earlier one computed live. A mismatch is reported and the grain refuses calls until an
/// acceptance (an operator's decision) comes by in the log. Runs on the activation's scheduler only.
/// </summary>
internal sealed class DivergenceDetector(GrainId grain, DivergenceMonitor monitor, Func<ulong> digest)
{
    /// <summary>Digests kept for checkpoints still to come by (a checkpoint follows its position within a few slots).</summary>
    public const int RememberedDigests = 64;

    private readonly Dictionary<long, ulong> _digests = [];
    private readonly Queue<long> _positions = new();
    private bool _digestFailed;
    private long _lastPosition = -1;

    /// <summary>Commands applied since the log began (carried in snapshots): decides where digests are taken.</summary>
    public long CommandsApplied { get; private set; }

    /// <summary>The mismatch not yet accepted, if any: while set, the grain refuses calls.</summary>
    public DivergenceReport? Diverged { get; private set; }

    /// <summary>After a snapshot was loaded: its command count, and a check that its state reads back to the digest it was saved with.</summary>
    public void Restore(long slot, long commandsApplied, ulong? savedDigest)
    {
        CommandsApplied = commandsApplied;
        if (savedDigest is not { } expected || TryDigest() is not { } actual) return; // a snapshot from before digests
        if (actual != expected) Report(new DivergenceReport(grain.ToString(), slot, CommandPayload.Position(slot, 0), expected, actual, DivergenceSource.Snapshot));
    }

    /// <summary>After a command applied at <paramref name="position"/>: the checkpoint to write into the log when a digest is due, else null.</summary>
    public Command? OnApplied(long position)
    {
        CommandsApplied++;
        _lastPosition = position;
        int every = monitor.DigestEveryCommands;
        if (every == 0 || CommandsApplied % every != 0 || TryDigest() is not { } current) return null;
        return CheckpointAt(current);
    }

    /// <summary>
    /// A checkpoint of <paramref name="current"/>, the digest of State now (after the last command applied), e.g. the
    /// one a snapshot carries. A replay compares it even off the periodic positions: the record follows its position
    /// in the log, so the replaying activation is still at that position when the record comes by.
    /// </summary>
    public Command CheckpointAt(ulong current)
    {
        _digests[_lastPosition] = current;
        _positions.Enqueue(_lastPosition);
        if (_positions.Count > RememberedDigests) _digests.Remove(_positions.Dequeue());
        return DivergenceRecord.Checkpoint(_lastPosition, current);
    }

    /// <summary>A checkpoint or acceptance chosen in the log (not a duplicate), in log order.</summary>
    public void OnRecord(Command record)
    {
        if (record.ClientId == DivergenceRecord.AcceptanceClient)
        {
            if (Diverged is { } accepted)
            {
                monitor.Accepted(accepted, DivergenceRecord.ReadAcceptance(record));
                Diverged = null;
            }
            return;
        }

        var (position, expected) = DivergenceRecord.ReadCheckpoint(record);
        // Not taken here: the position is before the snapshot this activation started from, or long gone.
        if (!_digests.TryGetValue(position, out ulong actual))
        {
            // Still at that position (nothing applied since): take the digest now.
            if (position != _lastPosition || TryDigest() is not { } now) return;
            actual = now;
        }
        if (actual == expected) return;
        Report(new DivergenceReport(grain.ToString(), position / CommandPayload.Position(1, 0), position, expected, actual, DivergenceSource.Checkpoint));
    }

    /// <summary>
    /// The digest of State, or null when State holds something the digest cannot walk (a getter that throws...):
    /// reported once, and the check is skipped rather than the command failed.
    /// </summary>
    public ulong? TryDigest()
    {
        try
        {
            return digest();
        }
        catch (Exception exception)
        {
            if (!_digestFailed) monitor.DigestFailed(grain, exception);
            _digestFailed = true;
            return null;
        }
    }

    public void ThrowIfDiverged()
    {
        if (Diverged is { } report) throw new GrainDivergedException(report);
    }

    private void Report(DivergenceReport report)
    {
        Diverged ??= report;
        monitor.Detected(report);
    }
}

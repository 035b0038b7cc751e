namespace OpenReplica.Storage;

/// <summary>A record encoded by its caller (so encoding runs in parallel), waiting for the writer to order it.</summary>
internal readonly record struct EncodedRecord(byte[] Bytes, string GroupId, GroupKey Key, WalRecordKind Kind, long Slot);

/// <summary>One caller's append (or reclamation request), completed after the fsync that covers it.</summary>
internal sealed class AppendRequest
{
    public AppendRequest(EncodedRecord[] records, bool reclaim = false)
    {
        Records = records;
        Reclaim = reclaim;
        foreach (EncodedRecord record in records)
        {
            Bytes += record.Bytes.Length;
        }
    }

    public EncodedRecord[] Records { get; }

    public int Bytes { get; }

    /// <summary>Run reclamation to completion after this request's batch (tests and explicit compaction).</summary>
    public bool Reclaim { get; }

    // Continuations must not run on the writer thread, or one slow caller would stall every group's commits.
    public TaskCompletionSource Completion { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);
}

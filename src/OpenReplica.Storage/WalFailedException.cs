namespace OpenReplica.Storage;

/// <summary>
/// A write or fsync failed. After an fsync failure the kernel may have dropped dirty pages, so nothing written
/// since the last good fsync can be trusted: the log refuses every later append until it is reopened and recovered.
/// </summary>
public sealed class WalFailedException : Exception
{
    /// <summary>The log stopped; <paramref name="message"/> says why.</summary>
    /// <param name="message">What failed, naming the file.</param>
    /// <param name="innerException">The I/O error, if any.</param>
    public WalFailedException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }

    /// <summary>The device reported no space left (ENOSPC): the log can be reopened once space returns.</summary>
    public bool DiskFull { get; init; }

    /// <summary>
    /// The failed batch's bytes were cut off again (the segment was truncated to its last durable end and that was
    /// fsynced), so the files hold exactly what was acknowledged: reopening the log is safe, and the failed data is
    /// never written or fsynced a second time. False when the failure left bytes of unknown durability behind
    /// (only a restart of the process, whose recovery checks every record, may reopen it then).
    /// </summary>
    public bool TailDiscarded { get; init; }
}

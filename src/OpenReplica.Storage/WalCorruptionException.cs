namespace OpenReplica.Storage;

/// <summary>Data that was once durable is unreadable; the log refuses to start rather than drop acknowledged records.</summary>
public sealed class WalCorruptionException : Exception
{
    /// <summary>Corruption found in <paramref name="file"/> at byte <paramref name="offset"/>.</summary>
    /// <param name="file">The segment or snapshot file.</param>
    /// <param name="offset">Where the unreadable record starts.</param>
    /// <param name="reason">What is wrong (checksum, length, framing).</param>
    public WalCorruptionException(string file, long offset, string reason)
        : base($"WAL corruption in '{file}' at offset {offset}: {reason}")
    {
        File = file;
        Offset = offset;
        Reason = reason;
    }

    /// <summary>The segment or snapshot file that holds the corruption.</summary>
    public string File { get; }

    /// <summary>The byte offset of the unreadable record.</summary>
    public long Offset { get; }

    /// <summary>What is wrong (checksum, length, framing).</summary>
    public string Reason { get; }
}

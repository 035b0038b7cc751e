namespace OpenReplica.Storage;

/// <summary>Data that was once durable is unreadable; the log refuses to start rather than drop acknowledged records.</summary>
public sealed class WalCorruptionException : Exception
{
    public WalCorruptionException(string file, long offset, string reason)
        : base($"WAL corruption in '{file}' at offset {offset}: {reason}")
    {
        File = file;
        Offset = offset;
        Reason = reason;
    }

    public string File { get; }

    public long Offset { get; }

    public string Reason { get; }
}

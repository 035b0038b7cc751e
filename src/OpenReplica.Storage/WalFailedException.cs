namespace OpenReplica.Storage;

/// <summary>
/// A write or fsync failed. After an fsync failure the kernel may have dropped dirty pages, so nothing written
/// since the last good fsync can be trusted: the log refuses every later append until it is reopened and recovered.
/// </summary>
public sealed class WalFailedException : Exception
{
    public WalFailedException(string message, Exception? innerException = null) : base(message, innerException)
    {
    }
}

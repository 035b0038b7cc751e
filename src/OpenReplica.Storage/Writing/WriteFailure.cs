namespace OpenReplica.Storage;

/// <summary>Turns an I/O error of a batch write into the log's <see cref="WalFailedException"/>, naming a full disk as such.</summary>
internal static class WriteFailure
{
    private const int Enospc = 28; // Linux, macOS
    private const int ErrorDiskFull = 0x70; // Windows ERROR_DISK_FULL
    private const int ErrorHandleDiskFull = 0x27;

    public static WalFailedException Of(Exception error, string directory, bool tailDiscarded)
    {
        bool full = IsDiskFull(error);
        string what = full
            ? $"The disk of the write-ahead log in '{directory}' is full ({error.Message})"
            : $"The write-ahead log in '{directory}' failed to write or fsync a batch ({error.Message})";
        string after = tailDiscarded
            ? "; the batch was cut off again (nothing of it was acknowledged) and the log accepts no more appends until it is reopened"
            : "; the bytes of the failed batch could not be cut off, so the log accepts no more appends and only a restart (recovery) may reopen it";
        return new WalFailedException(what + after + (full ? ". Free space on the device; the replica reopens its log when it can." : "."), error)
        {
            DiskFull = full,
            TailDiscarded = tailDiscarded,
        };
    }

    public static bool IsDiskFull(Exception error) =>
        error is IOException io
        && (OperatingSystem.IsWindows() ? (io.HResult & 0xFFFF) is ErrorDiskFull or ErrorHandleDiskFull : io.HResult == Enospc
            || io.Message.Contains("No space left on device", StringComparison.OrdinalIgnoreCase));
}

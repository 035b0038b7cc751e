namespace OpenReplica.Storage;

/// <summary>
/// Small files that must survive a crash whole (the replica roster, the identity): written to a temporary file,
/// fsynced, renamed over the old one, and the directory fsynced so the rename itself is durable.
/// </summary>
public static class DurableFile
{
    /// <summary>Replaces <paramref name="path"/> with <paramref name="content"/> so that after a crash it holds either the old or the new content, whole.</summary>
    public static void WriteAtomically(string path, ReadOnlySpan<byte> content)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(path);
        path = Path.GetFullPath(path);
        PhysicalFileSystem.Instance.CreateDirectory(Path.GetDirectoryName(path)!);
        AtomicFile.Write(PhysicalFileSystem.Instance, path, content);
    }
}

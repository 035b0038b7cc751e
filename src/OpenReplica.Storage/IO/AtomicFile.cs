namespace OpenReplica.Storage;

/// <summary>Replace-by-rename: readers see either the old or the new complete file, never a mix, even after a crash.</summary>
internal static class AtomicFile
{
    public const string TempSuffix = ".tmp";

    public static void Write(IFileSystem fs, string path, ReadOnlySpan<byte> content)
    {
        WriteTemp(fs, path, content);
        fs.Move(path + TempSuffix, path);
        fs.FlushDirectory(Path.GetDirectoryName(path)!);
    }

    /// <summary>
    /// Replaces several files of one directory, each as <see cref="Write"/> would, with one directory fsync for all:
    /// every new content is durable before any rename, and the renames become durable together. A crash leaves each
    /// file old or new, whole (some may be new and others old). (Fsyncing the new files from several threads at once
    /// was measured too, `Micro -- wal-snapshots`: no faster on the test machine, where creating the files waits for
    /// the journal as much as their fsyncs do.)
    /// </summary>
    public static void WriteAll(IFileSystem fs, string directory, IReadOnlyList<(string Path, byte[] Content)> files)
    {
        foreach ((string path, byte[] content) in files)
        {
            WriteTemp(fs, path, content);
        }

        foreach ((string path, _) in files)
        {
            fs.Move(path + TempSuffix, path);
        }

        fs.FlushDirectory(directory);
    }

    /// <summary>Writes the content to the path's temp file and makes it durable.</summary>
    private static void WriteTemp(IFileSystem fs, string path, ReadOnlySpan<byte> content)
    {
        using IFile file = fs.Open(path + TempSuffix, FileMode.Create);
        file.Write(content, 0);
        // Content must be durable before the rename can be, or a crash could expose a renamed empty file.
        file.Flush();
    }

    public static byte[] ReadAll(IFileSystem fs, string path)
    {
        using IFile file = fs.OpenRead(path);
        long length = file.Length;
        if (length > Array.MaxLength)
        {
            throw new IOException($"'{path}' is too large to read ({length} bytes).");
        }

        var buffer = new byte[length];
        int read = file.Read(buffer, 0);
        return read == buffer.Length ? buffer : buffer[..read];
    }
}

namespace OpenReplica.Storage;

/// <summary>
/// A read handle to one immutable-or-append-only log file, opened on first use and kept until the file is deleted or
/// the log closes. A cold group's lookup reads a few hundred bytes from every index file of every segment (a head
/// segment of a busy silo has dozens) and its records from each segment; opening and closing the file for each read
/// cost five system calls around one pread, and a rolling restart of thousands of groups spent most of the silos'
/// time in the kernel (session 29). Reads are positional, so concurrent readers share the handle.
/// </summary>
internal sealed class CachedReader(string path)
{
    private readonly Lock _gate = new();
    private IFile? _file;

    /// <summary>Reads <paramref name="buffer"/>'s length from <paramref name="offset"/> (fewer bytes at the file's end).</summary>
    public int Read(IFileSystem fs, Span<byte> buffer, long offset) => Open(fs).Read(buffer, offset);

    /// <summary>The file's length now.</summary>
    public long Length(IFileSystem fs) => Open(fs).Length;

    private IFile Open(IFileSystem fs)
    {
        lock (_gate)
        {
            return _file ??= fs.OpenRead(path);
        }
    }

    /// <summary>Closes the handle (before the file is deleted, or when the log closes); a later read opens it again.</summary>
    public void Close()
    {
        lock (_gate)
        {
            _file?.Dispose();
            _file = null;
        }
    }
}

using OpenReplica.Storage;

namespace OpenReplica.Testing;

/// <summary>
/// The real file system, except that writes under <see cref="FullUnder"/> fail as a full disk does (a short write,
/// then ENOSPC), and fsyncs under <see cref="FsyncFailsUnder"/> (or wherever <see cref="FsyncFailsWhen"/> says) fail
/// as a failing device does (EIO). Clearing them is the operator freeing space or replacing the device. Shared by the
/// Orleans tests and the chaos tool's silos (<c>--fsync-faults</c>).
/// </summary>
internal sealed class FillableFileSystem : IFileSystem
{
    private readonly IFileSystem _real = PhysicalFileSystem.Instance;

    public string? FullUnder { get; set; }

    /// <summary>More full directories at once (e.g. two silos' of three).</summary>
    public string[] AlsoFullUnder { get; set; } = [];

    /// <summary>Files under this prefix fail every fsync that has new data to make durable (EIO), as a failing device does.</summary>
    public string? FsyncFailsUnder { get; set; }

    /// <summary>Also fail such an fsync of a file while this says so (the chaos tool: while a trigger file exists).</summary>
    public Func<string, bool>? FsyncFailsWhen { get; set; }

    /// <summary>Files under this prefix take <see cref="FsyncDelay"/> longer for every fsync with new data (a slow device).</summary>
    public string? FsyncSlowUnder { get; set; }

    public TimeSpan FsyncDelay { get; set; }

    private bool FsyncSlow(string path) => FsyncSlowUnder is { } prefix && path.StartsWith(prefix, StringComparison.Ordinal);

    private bool FsyncFails(string path) =>
        (FsyncFailsUnder is { } prefix && path.StartsWith(prefix, StringComparison.Ordinal)) || FsyncFailsWhen?.Invoke(path) == true;

    private bool IsFull(string path) =>
        (FullUnder is { } prefix && path.StartsWith(prefix, StringComparison.Ordinal))
        || Array.Exists(AlsoFullUnder, p => path.StartsWith(p, StringComparison.Ordinal));

    public void CreateDirectory(string path) => _real.CreateDirectory(path);

    public bool FileExists(string path) => _real.FileExists(path);

    public IEnumerable<string> EnumerateFiles(string directory, string searchPattern) => _real.EnumerateFiles(directory, searchPattern);

    public IFile Open(string path, FileMode mode)
    {
        if (IsFull(path) && mode is FileMode.Create or FileMode.CreateNew) throw DiskFull();
        return new File(this, path, _real.Open(path, mode));
    }

    public IFile OpenRead(string path) => _real.OpenRead(path);

    public void Delete(string path) => _real.Delete(path);

    public void Move(string source, string destination) => _real.Move(source, destination);

    public void FlushDirectory(string directory) => _real.FlushDirectory(directory);

    private static IOException DiskFull() => new("No space left on device", 28);

    private sealed class File(FillableFileSystem fs, string path, IFile real) : IFile
    {
        public long Length => real.Length;

        public int Read(Span<byte> buffer, long offset) => real.Read(buffer, offset);

        private bool _writtenSinceFlush;

        public void Write(ReadOnlySpan<byte> data, long offset)
        {
            if (fs.IsFull(path))
            {
                real.Write(data[..(data.Length / 2)], offset); // what fits, then the error
                throw DiskFull();
            }
            real.Write(data, offset);
            _writtenSinceFlush = true;
        }

        public void SetLength(long length) => real.SetLength(length);

        public void Flush()
        {
            // Only an fsync with new data fails: the log's cut-back (truncate, then fsync) goes through.
            if (_writtenSinceFlush && fs.FsyncFails(path))
            {
                _writtenSinceFlush = false;
                throw new IOException("Input/output error (fsync failed: injected fault)", 5);
            }
            if (_writtenSinceFlush && fs.FsyncSlow(path)) Thread.Sleep(fs.FsyncDelay); // the log's own writer thread waits, as on a slow device
            real.Flush();
            _writtenSinceFlush = false;
        }

        public void Dispose() => real.Dispose();
    }
}

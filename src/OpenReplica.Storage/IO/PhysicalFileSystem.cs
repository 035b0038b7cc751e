using System.Runtime.InteropServices;

namespace OpenReplica.Storage;

/// <summary>The real disk.</summary>
internal sealed class PhysicalFileSystem : IFileSystem
{
    public static readonly PhysicalFileSystem Instance = new();

    public void CreateDirectory(string path) => Directory.CreateDirectory(path);

    public bool FileExists(string path) => File.Exists(path);

    public IEnumerable<string> EnumerateFiles(string directory, string searchPattern) =>
        Directory.Exists(directory) ? Directory.EnumerateFiles(directory, searchPattern) : [];

    public IFile Open(string path, FileMode mode) =>
        new PhysicalFile(new FileStream(path, mode, FileAccess.ReadWrite, FileShare.Read, bufferSize: 0));

    public IFile OpenRead(string path) =>
        new PhysicalFile(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite, bufferSize: 0));

    public void Delete(string path) => File.Delete(path);

    public void Move(string source, string destination) => File.Move(source, destination, overwrite: true);

    public void FlushDirectory(string directory)
    {
        // Windows has no portable way to fsync a directory handle from .NET and NTFS journals metadata;
        // on POSIX a created/renamed/deleted entry is only durable after fsync on the directory itself.
        if (OperatingSystem.IsWindows())
        {
            return;
        }

        int fd = PosixDirectory.open(directory, 0 /* O_RDONLY */);
        if (fd < 0)
        {
            throw new IOException($"open('{directory}') for directory fsync failed: errno {Marshal.GetLastPInvokeError()}");
        }

        try
        {
            if (PosixDirectory.fsync(fd) != 0)
            {
                throw new IOException($"fsync of directory '{directory}' failed: errno {Marshal.GetLastPInvokeError()}");
            }
        }
        finally
        {
            _ = PosixDirectory.close(fd);
        }
    }

    private sealed class PhysicalFile(FileStream stream) : IFile
    {
        public long Length => RandomAccess.GetLength(stream.SafeFileHandle);

        public int Read(Span<byte> buffer, long offset)
        {
            int total = 0;
            while (total < buffer.Length)
            {
                int n = RandomAccess.Read(stream.SafeFileHandle, buffer[total..], offset + total);
                if (n == 0)
                {
                    break;
                }

                total += n;
            }

            return total;
        }

        public void Write(ReadOnlySpan<byte> data, long offset) => RandomAccess.Write(stream.SafeFileHandle, data, offset);

        public void SetLength(long length) => RandomAccess.SetLength(stream.SafeFileHandle, length);

        // Flush(true) is fsync/FlushFileBuffers even with bufferSize 0 (nothing is buffered in user space).
        public void Flush() => stream.Flush(flushToDisk: true);

        public void Dispose() => stream.Dispose();
    }
}

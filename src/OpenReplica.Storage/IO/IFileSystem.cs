namespace OpenReplica.Storage;

/// <summary>
/// The file operations the log needs, so tests can inject short writes, failed fsyncs, full disks and crashes.
/// Paths are full paths. Namespace changes (create, rename, delete) are durable only after <see cref="FlushDirectory"/>.
/// </summary>
public interface IFileSystem
{
    /// <summary>Creates the directory and any missing parents.</summary>
    void CreateDirectory(string path);

    /// <summary>Whether a file exists at <paramref name="path"/>.</summary>
    bool FileExists(string path);

    /// <summary>Full paths of the files directly in <paramref name="directory"/> matching <paramref name="searchPattern"/>.</summary>
    IEnumerable<string> EnumerateFiles(string directory, string searchPattern);

    /// <summary>Opens (or creates, per <paramref name="mode"/>) a file for reading and writing.</summary>
    IFile Open(string path, FileMode mode);

    /// <summary>Opens an existing file for reading only (inspection must not need write access).</summary>
    IFile OpenRead(string path);

    /// <summary>Deletes the file if it exists.</summary>
    void Delete(string path);

    /// <summary>Atomic rename that replaces <paramref name="destination"/> if it exists.</summary>
    void Move(string source, string destination);

    /// <summary>Makes namespace changes in the directory durable (fsync of the directory on POSIX).</summary>
    void FlushDirectory(string directory);
}

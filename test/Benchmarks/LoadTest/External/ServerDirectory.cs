namespace OpenReplica.LoadTest.External;

/// <summary>
/// A fresh directory for one server instance under the tool's work directory: its logs (kept) and <c>data/</c> (the
/// server's files, deleted when the server is disposed: a benchmark's data is of no further use, and etcd alone
/// preallocates 64 MB of WAL per member).
/// </summary>
internal sealed class ServerDirectory
{
    private const int MaxSocketDirectoryLength = 100; // a Unix socket path has 108 bytes, with room for "/.s.PGSQL.<port>"

    private string? _socketDirectoryOutside;

    private ServerDirectory(string root)
    {
        Root = root;
        Data = Path.Combine(root, "data");
        Directory.CreateDirectory(Data);
    }

    public string Root { get; }

    public string Data { get; }

    public string LogFor(string name) => Path.Combine(Root, name + ".log");

    /// <summary>Creates <c>{workDirectory}/{kind}-{utc time}-{random}</c>; never reuses an existing directory.</summary>
    public static ServerDirectory Create(string workDirectory, string kind)
    {
        var name = $"{kind}-{DateTime.UtcNow:yyyyMMdd-HHmmss}-{Random.Shared.Next(0x10000):x4}";
        var root = Path.GetFullPath(Path.Combine(workDirectory, name));
        if (Directory.Exists(root)) throw new IOException($"{root} already exists");
        Directory.CreateDirectory(root);
        return new ServerDirectory(root);
    }

    /// <summary>
    /// A directory for a server's Unix socket: under data/, unless a deep work directory makes that path too long for
    /// the kernel; then a short one in /tmp, removed with the data.
    /// </summary>
    public string CreateSocketDirectory()
    {
        var directory = Path.Combine(Data, "socket");
        if (directory.Length > MaxSocketDirectoryLength)
        {
            directory = _socketDirectoryOutside = Directory.CreateTempSubdirectory("openreplica-socket-").FullName;
        }
        Directory.CreateDirectory(directory);
        return directory;
    }

    /// <summary>Removes the data (after the server stopped); the logs stay for the user.</summary>
    public void DeleteData()
    {
        try
        {
            Directory.Delete(Data, recursive: true);
            if (_socketDirectoryOutside is not null) Directory.Delete(_socketDirectoryOutside, recursive: true);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            // Leaving scratch data behind is harmless; failing a benchmark over it is not.
        }
    }
}

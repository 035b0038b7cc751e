using System.Text;

namespace OpenReplica.Storage;

/// <summary>
/// The identity an acceptor votes under. It lives in the data directory, next to the promises it stands for: a
/// silo that comes back with an empty (or different) directory has forgotten its promises and must therefore be a
/// new replica, which joins only through reconfiguration. Never derive it from the silo address.
/// </summary>
public sealed class ReplicaIdentity
{
    public const string FileName = "replica.id";
    private const string Header = "openreplica-replica-id-v1";

    private ReplicaIdentity(Guid id, bool createdNow)
    {
        Id = id;
        CreatedNow = createdNow;
    }

    public Guid Id { get; }

    /// <summary>True if this call created the identity (the directory had none).</summary>
    public bool CreatedNow { get; }

    public static ReplicaIdentity LoadOrCreate(string directory) => LoadOrCreate(directory, null);

    public static ReplicaIdentity LoadOrCreate(string directory, IFileSystem? fileSystem)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(directory);
        IFileSystem fs = fileSystem ?? PhysicalFileSystem.Instance;
        directory = Path.GetFullPath(directory);
        fs.CreateDirectory(directory);
        string path = Path.Combine(directory, FileName);
        if (fs.FileExists(path))
        {
            return new ReplicaIdentity(Parse(path, AtomicFile.ReadAll(fs, path)), createdNow: false);
        }

        // Written atomically: a crash leaves either no identity (a new one is made next time, which is safe
        // because nothing was promised under it yet) or the complete one.
        var id = Guid.NewGuid();
        AtomicFile.Write(fs, path, Encoding.UTF8.GetBytes($"{Header}\n{id:D}\n"));
        return new ReplicaIdentity(id, createdNow: true);
    }

    private static Guid Parse(string path, byte[] content)
    {
        string text = Encoding.UTF8.GetString(content);
        string[] lines = text.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 2 && lines[0] == Header && Guid.TryParseExact(lines[1], "D", out Guid id))
        {
            return id;
        }

        // Replacing it silently would let this replica vote under a new name while its old promises are still on
        // disk, or hide damage; an operator has to decide.
        throw new InvalidDataException($"Replica identity file '{path}' is damaged (found '{text.Trim()}'); refusing to start under an unknown identity.");
    }
}

using System.Text;

namespace OpenReplica.Storage;

/// <summary>
/// The identity an acceptor votes under. It lives in the data directory, next to the promises it stands for: a
/// silo that comes back with an empty (or different) directory has forgotten its promises and must therefore be a
/// new replica, which joins only through reconfiguration. Never derive it from the silo address.
/// </summary>
public sealed class ReplicaIdentity
{
    /// <summary>The file in the data directory that holds the identity.</summary>
    public const string FileName = "replica.id";

    /// <summary>
    /// Where releases before the per-silo engine kept the identity (a bare Guid). Read once and rewritten as
    /// <see cref="FileName"/>: a silo upgraded in place must keep voting under the id its promises were made under,
    /// or a whole cluster upgraded at once would have no roster member left.
    /// </summary>
    public const string LegacyFileName = "replica-id";
    private const string Header = "openreplica-replica-id-v1";

    private ReplicaIdentity(Guid id, bool createdNow)
    {
        Id = id;
        CreatedNow = createdNow;
    }

    /// <summary>The replica id the acceptor votes under.</summary>
    public Guid Id { get; }

    /// <summary>True if this call created the identity (the directory had none).</summary>
    public bool CreatedNow { get; }

    /// <summary>Reads the identity in <paramref name="directory"/>, or creates one (durably) if it has none.</summary>
    public static ReplicaIdentity LoadOrCreate(string directory) => LoadOrCreate(directory, null);

    /// <summary>Reads the identity in <paramref name="directory"/> through <paramref name="fileSystem"/> (null: the real disk), or creates one (durably) if it has none.</summary>
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

        string legacyPath = Path.Combine(directory, LegacyFileName);
        if (fs.FileExists(legacyPath))
        {
            string legacy = Encoding.UTF8.GetString(AtomicFile.ReadAll(fs, legacyPath)).Trim();
            if (!Guid.TryParse(legacy, out Guid kept))
            {
                throw new InvalidDataException($"Replica identity file '{legacyPath}' does not hold a Guid (found '{legacy}'); refusing to start under an unknown identity.");
            }

            // The legacy file stays: a crash between here and the next start reads the same id either way.
            AtomicFile.Write(fs, path, Encoding.UTF8.GetBytes($"{Header}\n{kept:D}\n"));
            return new ReplicaIdentity(kept, createdNow: false);
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

using Microsoft.Extensions.Options;

namespace OpenReplica.Orleans;

/// <summary>
/// The silo's replica identity. With a data directory, a Guid is read from <see cref="FileName"/> there, or
/// created and written atomically on first start; a silo that comes back with an empty directory is therefore a
/// new replica (it forgot its promises and must not vote under the old id). Without one, a random id per process.
/// </summary>
internal sealed class ReplicaIdentity
{
    public const string FileName = "replica-id";

    private readonly Lazy<(Guid Id, bool Restored)> _replicaId;

    public ReplicaIdentity(IOptions<ReplicatedGrainsOptions> options)
    {
        var directory = options.Value.DataDirectory;
        Persisted = directory is not null;
        // Read on first use, after the options validator has checked the directory (it names the problem better).
        _replicaId = new Lazy<(Guid, bool)>(() => directory is null ? (Guid.NewGuid(), false) : LoadOrCreateWithOrigin(directory));
    }

    public Guid ReplicaId => _replicaId.Value.Id;

    public bool Persisted { get; }

    /// <summary>The identity was read from the directory: this replica ran before and may have made promises it no longer remembers.</summary>
    public bool Restored => _replicaId.Value.Restored;

    internal static Guid LoadOrCreate(string directory) => LoadOrCreateWithOrigin(directory).Id;

    private static (Guid Id, bool Restored) LoadOrCreateWithOrigin(string directory)
    {
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        if (File.Exists(path))
        {
            var text = File.ReadAllText(path).Trim();
            if (!Guid.TryParse(text, out var existing))
            {
                throw new InvalidDataException($"Replica identity file '{path}' does not hold a Guid (found '{text}'); refusing to start under an unknown identity.");
            }

            return (existing, true);
        }

        var created = Guid.NewGuid();
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        using (var writer = new StreamWriter(stream))
        {
            writer.Write(created.ToString("D"));
            writer.Flush();
            stream.Flush(flushToDisk: true);
        }

        File.Move(temporary, path, overwrite: false);
        return (created, false);
    }
}

using Microsoft.Extensions.Options;

namespace OpenReplica.Orleans;

/// <summary>
/// The silo's replica identity. With a data directory, a Guid is read from <see cref="FileName"/> there, or
/// created and written atomically (temporary file, fsync, rename, directory fsync) on first start; a silo that comes back with an empty directory is therefore a
/// new replica (it forgot its promises and must not vote under the old id). Without one, a random id per process.
/// </summary>
internal sealed class ReplicaIdentity
{
    public const string FileName = Storage.ReplicaIdentity.FileName;

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

    // The file format and its atomic, directory-fsynced write live with the storage they stand next to.
    private static (Guid Id, bool Restored) LoadOrCreateWithOrigin(string directory)
    {
        var identity = Storage.ReplicaIdentity.LoadOrCreate(directory);
        return (identity.Id, !identity.CreatedNow);
    }
}

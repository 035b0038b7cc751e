using System.Security.Cryptography;
using System.Text;

namespace OpenReplica.Storage;

/// <summary>One file per group, replaced atomically (temp file, fsync, rename, directory fsync).</summary>
internal sealed class SnapshotStore(IFileSystem fs, string directory)
{
    public const string Pattern = "snap-*.snap";

    public void Save(string groupId, long slot, long stamp, ReadOnlySpan<byte> data) =>
        AtomicFile.Write(fs, PathFor(groupId), SnapshotFile.Encode(groupId, slot, stamp, data));

    /// <summary>Several groups' snapshots with one directory fsync (see <see cref="AtomicFile.WriteAll"/>).</summary>
    public void SaveAll(IReadOnlyList<SnapshotSave> saves, long stamp) =>
        AtomicFile.WriteAll(fs, directory, [.. saves.Select(s => (PathFor(s.GroupId), SnapshotFile.Encode(s.GroupId, s.Slot, stamp, s.Snapshot.Span)))]);

    public SnapshotContent? Load(string groupId)
    {
        string path = PathFor(groupId);
        if (!fs.FileExists(path))
        {
            return null;
        }

        SnapshotContent content = SnapshotFile.Decode(path, AtomicFile.ReadAll(fs, path));
        // The file name is a 128-bit hash; a mismatch would mean a collision or a misplaced file, never "ours".
        return content.GroupId == groupId ? content : null;
    }

    public IEnumerable<(string Path, SnapshotContent Content)> LoadAll() =>
        fs.EnumerateFiles(directory, Pattern).Order(StringComparer.Ordinal)
            .Select(path => (path, SnapshotFile.Decode(path, AtomicFile.ReadAll(fs, path))));

    public void Delete(string groupId)
    {
        string path = PathFor(groupId);
        if (fs.FileExists(path))
        {
            fs.Delete(path);
            fs.FlushDirectory(directory);
        }
    }

    public void DeleteFile(string path)
    {
        fs.Delete(path);
        fs.FlushDirectory(directory);
    }

    /// <summary>Temp files are leftovers of saves a crash interrupted; the rename never happened, so they are garbage.</summary>
    public void DeleteLeftoverTemps()
    {
        foreach (string temp in fs.EnumerateFiles(directory, "snap-*" + AtomicFile.TempSuffix).ToList())
        {
            fs.Delete(temp);
        }
    }

    // Group ids are arbitrary strings (grain keys); a hash makes a safe, fixed-length file name.
    private string PathFor(string groupId)
    {
        byte[] hash = SHA256.HashData(Encoding.UTF8.GetBytes(groupId));
        return Path.Combine(directory, "snap-" + Convert.ToHexStringLower(hash.AsSpan(0, 16)) + ".snap");
    }
}

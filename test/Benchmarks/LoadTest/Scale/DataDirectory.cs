namespace OpenReplica.LoadTest.Scale;

/// <summary>Bytes on disk under the silos' data directories (WAL segments, snapshots, identity and roster files).</summary>
internal static class DataDirectory
{
    public static long Bytes(string? root) =>
        root is not null && Directory.Exists(root)
            ? new DirectoryInfo(root).EnumerateFiles("*", SearchOption.AllDirectories).Sum(f => SafeLength(f))
            : 0;

    // The WAL may reclaim (delete) a segment while we walk the tree.
    private static long SafeLength(FileInfo file)
    {
        try { return file.Length; } catch (IOException) { return 0; }
    }
}

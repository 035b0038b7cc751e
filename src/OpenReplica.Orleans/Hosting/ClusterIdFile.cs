using System.Text;

namespace OpenReplica.Orleans;

/// <summary>
/// Records in a data directory which Orleans cluster (<c>ClusterOptions.ClusterId</c>) it belongs to. A directory
/// of another cluster holds promises made to other replicas; voting with them here could break both clusters, so a
/// silo refuses to start on it, naming both clusters.
/// </summary>
internal static class ClusterIdFile
{
    public const string FileName = "cluster-id";
    private const string Header = "openreplica-cluster-id-v1";

    /// <summary>Writes <paramref name="clusterId"/> on first use; throws when the directory records another cluster.</summary>
    public static void CheckOrRecord(string directory, string clusterId)
    {
        ArgumentException.ThrowIfNullOrEmpty(clusterId);
        Directory.CreateDirectory(directory);
        var path = Path.Combine(directory, FileName);
        if (File.Exists(path))
        {
            string recorded = Parse(path, File.ReadAllBytes(path));
            if (recorded != clusterId)
            {
                throw new InvalidOperationException(
                    $"Data directory '{directory}' belongs to cluster '{recorded}' (recorded in '{path}'), but this silo is configured for cluster '{clusterId}' (ClusterOptions.ClusterId). "
                    + "Refusing to start: its replica would vote with promises made in another cluster. Give this silo its own empty data directory, or fix ClusterId.");
            }
            return;
        }

        // Atomic (temp, fsync, rename): a crash leaves no file (recorded next time) or the whole one.
        var temporary = path + ".tmp";
        using (var stream = new FileStream(temporary, FileMode.Create, FileAccess.Write, FileShare.None))
        {
            stream.Write(Encoding.UTF8.GetBytes($"{Header}\n{clusterId}\n"));
            stream.Flush(flushToDisk: true);
        }
        File.Move(temporary, path, overwrite: false);
    }

    /// <summary>The recorded cluster id; a clear error for anything that is not this file's format.</summary>
    internal static string Parse(string path, ReadOnlySpan<byte> content)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(content);
        }
        catch (DecoderFallbackException)
        {
            throw new InvalidDataException($"Cluster id file '{path}' is not UTF-8 text; refusing to start on a damaged data directory.");
        }
        string[] lines = text.Split('\n');
        if (lines.Length != 3 || lines[0] != Header || lines[1].Length == 0 || lines[2].Length != 0)
        {
            throw new InvalidDataException($"Cluster id file '{path}' is damaged (expected '{Header}' and one cluster id); refusing to start on a damaged data directory.");
        }
        return lines[1];
    }
}

using System.Globalization;

namespace OpenReplica.Storage;

/// <summary>Segment files are <c>wal-&lt;seq:D16&gt;.log</c> so that name order is log order.</summary>
internal static class SegmentName
{
    public const string Pattern = "wal-*.log";

    public static string Format(long sequence) => $"wal-{sequence.ToString("D16", CultureInfo.InvariantCulture)}.log";

    public static bool TryParse(string path, out long sequence)
    {
        string name = Path.GetFileName(path);
        sequence = 0;
        return name.Length == 24 && name.StartsWith("wal-", StringComparison.Ordinal) && name.EndsWith(".log", StringComparison.Ordinal)
            && long.TryParse(name.AsSpan(4, 16), NumberStyles.None, CultureInfo.InvariantCulture, out sequence);
    }
}

using System.Text;

namespace OpenReplica.Orleans;

/// <summary>
/// The replica roster a silo keeps in its data directory (<c>roster</c>): one replica identity per line, in the
/// roster's order. The file is read at start, before the meta group has said anything, so damaged bytes must not
/// become a roster: anything but distinct identities, one per line, is refused with an error naming the file.
/// </summary>
internal static class RosterFile
{
    public const string FileName = "roster";

    /// <summary>Most members a roster file may list (a roster is every settled silo: far fewer in practice).</summary>
    public const int MaxMembers = 4096;

    public static byte[] Encode(IReadOnlyList<Guid> roster) =>
        Encoding.UTF8.GetBytes(string.Concat(roster.Select(id => id.ToString("D") + "\n")));

    /// <summary>The roster recorded in <paramref name="content"/>; <see cref="InvalidDataException"/> naming <paramref name="path"/> otherwise.</summary>
    public static IReadOnlyList<Guid> Parse(string path, ReadOnlySpan<byte> content)
    {
        string text;
        try
        {
            text = new UTF8Encoding(false, throwOnInvalidBytes: true).GetString(content);
        }
        catch (DecoderFallbackException)
        {
            throw Damaged(path, "it is not UTF-8 text");
        }
        // Written with "\n"; files from before that may use the platform's line ending.
        var lines = text.Split('\n').Select(l => l.TrimEnd('\r')).Where(l => l.Length > 0).ToList();
        if (lines.Count == 0) throw Damaged(path, "it lists no replica");
        if (lines.Count > MaxMembers) throw Damaged(path, $"it lists {lines.Count} replicas, more than {MaxMembers}");
        var ids = new List<Guid>(lines.Count);
        foreach (string line in lines)
        {
            if (!Guid.TryParseExact(line, "D", out var id)) throw Damaged(path, $"the line '{Shorten(line)}' is not a replica identity");
            if (id == Guid.Empty) throw Damaged(path, "it lists the empty identity");
            if (ids.Contains(id)) throw Damaged(path, $"it lists replica {id} twice");
            ids.Add(id);
        }
        return ids;
    }

    private static InvalidDataException Damaged(string path, string why) =>
        new($"Replica roster file '{path}' is damaged: {why}. Refusing to start on a damaged data directory (restore it, or start the silo with an empty one to join as a new replica).");

    private static string Shorten(string line) => line.Length <= 64 ? line : line[..64] + "…";
}

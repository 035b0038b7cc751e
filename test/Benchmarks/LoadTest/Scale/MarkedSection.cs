namespace OpenReplica.LoadTest.Scale;

/// <summary>
/// A generated section of a markdown file between two marker comments: replaced in place on each run, appended
/// (with its markers) at the end when the file does not have it yet. Text outside the markers is never touched.
/// </summary>
internal static class MarkedSection
{
    public static void Write(string path, string begin, string end, string content)
    {
        string block = begin + "\n" + content.TrimEnd() + "\n" + end;
        string text = File.Exists(path) ? File.ReadAllText(path) : "";
        int b = text.IndexOf(begin, StringComparison.Ordinal);
        int e = b < 0 ? -1 : text.IndexOf(end, b, StringComparison.Ordinal);
        text = b >= 0 && e > b
            ? text[..b] + block + text[(e + end.Length)..]
            : (text.Length == 0 ? "" : text.TrimEnd() + "\n\n") + block + "\n";
        Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
        File.WriteAllText(path, text);
    }
}

namespace OpenReplica.Checker;

/// <summary>A history file could not be parsed. The message names the file and the (1-based) line: <c>file:line: reason</c>.</summary>
public sealed class HistoryFormatException : FormatException
{
    /// <summary>Creates the exception.</summary>
    public HistoryFormatException(string file, int line, string reason, Exception? inner = null)
        : base($"{file}:{line}: {reason}", inner)
    {
        File = file;
        Line = line;
        Reason = reason;
    }

    /// <summary>The file (as given to the reader).</summary>
    public string File { get; }

    /// <summary>1-based line number.</summary>
    public int Line { get; }

    /// <summary>What is wrong with the line.</summary>
    public string Reason { get; }
}

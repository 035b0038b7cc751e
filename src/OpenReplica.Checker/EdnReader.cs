using System.Globalization;
using System.Text;

namespace OpenReplica.Checker;

/// <summary>An EDN keyword such as <c>:invoke</c> (stored without the colon).</summary>
internal readonly record struct EdnKeyword(string Name)
{
    public override string ToString() => ":" + Name;
}

/// <summary>An EDN symbol such as <c>foo</c> (anything that is not nil, true, false or a number).</summary>
internal readonly record struct EdnSymbol(string Name)
{
    public override string ToString() => Name;
}

/// <summary>An EDN syntax error at a line and column (1-based).</summary>
internal sealed class EdnException(int line, int column, string reason) : FormatException($"column {column}: {reason}")
{
    public int Line { get; } = line;

    public int Column { get; } = column;
}

/// <summary>
/// Reads EDN values from a text: maps (<see cref="Dictionary{TKey, TValue}"/>), vectors and lists
/// (<see cref="List{T}"/>), sets (<see cref="HashSet{T}"/>), strings, keywords, symbols, integers (<see cref="long"/>),
/// floats (<see cref="double"/>), <c>true</c>/<c>false</c> and <c>nil</c> (null). Enough for Jepsen histories; tagged
/// literals (<c>#inst "..."</c>) are read as their value. Errors throw <see cref="EdnException"/> saying what was
/// expected where.
/// </summary>
internal sealed class EdnReader(string text)
{
    private readonly int[] _lineStarts = LineStarts(text);
    private int _pos;

    /// <summary>
    /// The items of a history with the line each starts on: the top-level values, except that a top-level vector or
    /// list stands for its elements (Jepsen writes a history either as one map a line or as one vector of maps).
    /// </summary>
    public IEnumerable<(int Line, object? Value)> ReadItems()
    {
        while (true)
        {
            SkipSpace();
            if (_pos >= text.Length)
            {
                yield break;
            }

            if (text[_pos] is not ('[' or '('))
            {
                yield return (LineOf(_pos), Read());
                continue;
            }

            var close = text[_pos] == '[' ? ']' : ')';
            _pos++;
            while (true)
            {
                SkipSpace();
                if (_pos >= text.Length)
                {
                    throw Error($"expected '{close}' to close the history, found the end of the file");
                }

                if (text[_pos] == close)
                {
                    _pos++;
                    break;
                }

                yield return (LineOf(_pos), Read());
            }
        }
    }

    private object? Read()
    {
        SkipSpace();
        if (_pos >= text.Length)
        {
            throw Error("expected a value, found the end of the file");
        }

        var c = text[_pos];
        switch (c)
        {
            case '{':
                _pos++;
                return ReadMap();
            case '[':
                _pos++;
                return ReadSequence(']');
            case '(':
                _pos++;
                return ReadSequence(')');
            case '"':
                _pos++;
                return ReadString();
            case ':':
                _pos++;
                return new EdnKeyword(ReadToken());
            case '#' when _pos + 1 < text.Length && text[_pos + 1] == '{':
                _pos += 2;
                return new HashSet<object?>(ReadSequence('}'));
            case '#':
                _pos++;
                ReadToken(); // tag, e.g. #inst or #jepsen.history.Op: read the tagged value itself
                return Read();
            case '}' or ']' or ')':
                throw Error($"unexpected '{c}'");
            default:
                return Atom(ReadToken());
        }
    }

    private Dictionary<object, object?> ReadMap()
    {
        var map = new Dictionary<object, object?>();
        while (true)
        {
            SkipSpace();
            if (_pos >= text.Length)
            {
                throw Error("expected '}' to close the map, found the end of the file");
            }

            if (text[_pos] == '}')
            {
                _pos++;
                return map;
            }

            var key = Read() ?? throw Error("a map key cannot be nil");
            SkipSpace();
            if (_pos < text.Length && text[_pos] == '}')
            {
                throw Error($"the map key {key} has no value");
            }

            map[key] = Read();
        }
    }

    private List<object?> ReadSequence(char close)
    {
        var items = new List<object?>();
        while (true)
        {
            SkipSpace();
            if (_pos >= text.Length)
            {
                throw Error($"expected '{close}', found the end of the file");
            }

            if (text[_pos] == close)
            {
                _pos++;
                return items;
            }

            items.Add(Read());
        }
    }

    private string ReadString()
    {
        var sb = new StringBuilder();
        while (_pos < text.Length)
        {
            var c = text[_pos++];
            if (c == '"')
            {
                return sb.ToString();
            }

            if (c != '\\')
            {
                sb.Append(c);
                continue;
            }

            if (_pos >= text.Length)
            {
                break;
            }

            var e = text[_pos++];
            switch (e)
            {
                case 'n': sb.Append('\n'); break;
                case 't': sb.Append('\t'); break;
                case 'r': sb.Append('\r'); break;
                case 'u' when _pos + 4 <= text.Length && int.TryParse(text.AsSpan(_pos, 4), NumberStyles.HexNumber, CultureInfo.InvariantCulture, out var code):
                    sb.Append((char)code);
                    _pos += 4;
                    break;
                default: sb.Append(e); break; // \" \\ and anything else stand for themselves
            }
        }

        throw Error("expected '\"' to close the string, found the end of the file");
    }

    private string ReadToken()
    {
        var start = _pos;
        while (_pos < text.Length && !char.IsWhiteSpace(text[_pos]) && text[_pos] is not (',' or '{' or '}' or '[' or ']' or '(' or ')' or '"'))
        {
            _pos++;
        }

        if (_pos == start)
        {
            throw Error($"expected a value, found '{Peek()}'");
        }

        return text[start.._pos];
    }

    private static object? Atom(string token)
    {
        switch (token)
        {
            case "nil":
                return null;
            case "true":
                return true;
            case "false":
                return false;
        }

        var number = token.EndsWith('N') ? token[..^1] : token;
        if (long.TryParse(number, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var l))
        {
            return l;
        }

        if (double.TryParse(token.TrimEnd('M'), NumberStyles.Float, CultureInfo.InvariantCulture, out var d))
        {
            return d;
        }

        return new EdnSymbol(token);
    }

    private void SkipSpace()
    {
        while (_pos < text.Length && (char.IsWhiteSpace(text[_pos]) || text[_pos] == ','))
        {
            _pos++;
        }

        if (_pos < text.Length && text[_pos] == ';')
        {
            // A comment runs to the end of the line.
            var end = text.IndexOf('\n', _pos);
            _pos = end < 0 ? text.Length : end;
            SkipSpace();
        }
    }

    private string Peek() => _pos < text.Length ? text[_pos].ToString() : "the end of the file";

    private int LineOf(int pos)
    {
        var i = Array.BinarySearch(_lineStarts, pos);
        return (i >= 0 ? i : ~i - 1) + 1;
    }

    private EdnException Error(string reason)
    {
        // At the end of the file, point just past its last character (not at a trailing empty line).
        var at = _pos >= text.Length ? text.TrimEnd().Length : _pos;
        var line = LineOf(Math.Max(0, at - (at == text.TrimEnd().Length && at > 0 ? 1 : 0)));
        var column = at - _lineStarts[line - 1] + 1;
        return new EdnException(line, column, reason);
    }

    private static int[] LineStarts(string text)
    {
        var starts = new List<int> { 0 };
        for (var i = 0; i < text.Length; i++)
        {
            if (text[i] == '\n')
            {
                starts.Add(i + 1);
            }
        }

        return starts.ToArray();
    }
}

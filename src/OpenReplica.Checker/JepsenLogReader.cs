using System.Globalization;
using System.Text.RegularExpressions;

namespace OpenReplica.Checker;

/// <summary>
/// Reads Jepsen's log of a single compare-and-set register (<c>INFO  jepsen.util - P	:invoke	:read	nil</c> ...).
/// Times are line numbers. <c>:ok</c> completes an operation; <c>:fail</c> of a read or write means it had no effect
/// (it is dropped), <c>:fail :cas [A B]</c> is a CAS that did not take effect; <c>:info</c>, or no completion before the
/// end of the log, makes the operation indeterminate (<see cref="Operation{TInput, TOutput}.Return"/> = null).
/// Lines that are not events (no <c>jepsen.util - N :type</c>) are noise and ignored; a malformed event throws
/// <see cref="HistoryFormatException"/>.
/// </summary>
public static partial class JepsenLogReader
{
    [GeneratedRegex(@"jepsen\.util\s+-\s+(\d+)\s+:(invoke|ok|fail|info)\b\s*(.*?)\s*$", RegexOptions.CultureInvariant)]
    private static partial Regex EventLine();

    [GeneratedRegex(@"^:(\S+)\s*(.*)$", RegexOptions.CultureInvariant)]
    private static partial Regex FunctionAndValue();

    [GeneratedRegex(@"^\[\s*(\S+)\s+(\S+)\s*\]$", RegexOptions.CultureInvariant)]
    private static partial Regex Pair();

    /// <summary>Reads a Jepsen log file.</summary>
    /// <param name="path">The log file.</param>
    /// <param name="allowCas">False to reject :cas events (for the read/write <see cref="Models.Register"/> model).</param>
    public static IReadOnlyList<Operation<CasInput, CasOutput>> ReadFile(string path, bool allowCas = true)
    {
        using var reader = new StreamReader(path);
        return Read(reader, path, allowCas);
    }

    /// <summary>Reads a Jepsen log; <paramref name="fileName"/> is used in error messages.</summary>
    /// <param name="reader">The log.</param>
    /// <param name="fileName">Used in error messages.</param>
    /// <param name="allowCas">False to reject :cas events (for the read/write <see cref="Models.Register"/> model).</param>
    public static IReadOnlyList<Operation<CasInput, CasOutput>> Read(TextReader reader, string fileName, bool allowCas = true)
    {
        var ops = new List<Operation<CasInput, CasOutput>?>();
        var pending = new Dictionary<int, (int Index, int Line)>();
        var lineNo = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNo++;
            var m = EventLine().Match(line);
            if (!m.Success)
            {
                continue;
            }

            HistoryFormatException Error(string reason) => new(fileName, lineNo, reason);

            if (!int.TryParse(m.Groups[1].ValueSpan, NumberStyles.None, CultureInfo.InvariantCulture, out var process))
            {
                throw Error($"process number '{m.Groups[1].Value}' is out of range");
            }

            var type = m.Groups[2].Value;
            var fv = FunctionAndValue().Match(m.Groups[3].Value);
            if (!fv.Success)
            {
                throw Error($"expected ':read', ':write' or ':cas' after ':{type}', found '{m.Groups[3].Value}'");
            }

            var f = fv.Groups[1].Value;
            var value = fv.Groups[2].Value.Trim();
            if (f is not ("read" or "write" or "cas"))
            {
                throw Error($"unknown operation ':{f}' (expected :read, :write or :cas)");
            }

            if (f == "cas" && !allowCas)
            {
                throw Error("compare-and-set (:cas) is not supported by the register model; use the cas-register model");
            }

            if (type == "invoke")
            {
                if (pending.TryGetValue(process, out var open))
                {
                    throw Error($"process {process} invokes an operation while its operation from line {open.Line} is still pending");
                }

                var input = f switch
                {
                    "read" => new CasInput(CasOp.Read),
                    "write" => new CasInput(CasOp.Write, ParseValue(value, Error)),
                    _ => ParseCas(value, Error),
                };
                pending[process] = (ops.Count, lineNo);
                ops.Add(new Operation<CasInput, CasOutput>(process, input, null, lineNo, null));
                continue;
            }

            if (!pending.Remove(process, out var invocation))
            {
                throw Error($"process {process} completes (:{type}) an operation it never invoked");
            }

            var op = ops[invocation.Index]!;
            var expectedF = op.Input.Op switch { CasOp.Read => "read", CasOp.Write => "write", _ => "cas" };
            if (f != expectedF)
            {
                throw Error($"process {process} completes :{f} but invoked :{expectedF} on line {invocation.Line}");
            }

            switch (type)
            {
                case "info":
                    break; // indeterminate: keep Return = null
                case "fail" when op.Input.Op == CasOp.Cas && Pair().IsMatch(value):
                    CheckSameCas(op.Input, ParseCas(value, Error), Error);
                    ops[invocation.Index] = op with { Output = new CasOutput(null, false), Return = lineNo };
                    break;
                case "fail":
                    ops[invocation.Index] = null; // definitely no effect and nothing observed
                    break;
                default: // ok
                    switch (op.Input.Op)
                    {
                        case CasOp.Read:
                            ops[invocation.Index] = op with { Output = new CasOutput(ParseValue(value, Error)), Return = lineNo };
                            break;
                        case CasOp.Write:
                            if (value.Length > 0 && ParseValue(value, Error) != op.Input.Value)
                            {
                                throw Error($"write completes with {value} but invoked with {Models.Show(op.Input.Value)} on line {invocation.Line}");
                            }

                            ops[invocation.Index] = op with { Output = new CasOutput(null), Return = lineNo };
                            break;
                        default:
                            if (value.Length > 0)
                            {
                                CheckSameCas(op.Input, ParseCas(value, Error), Error);
                            }

                            ops[invocation.Index] = op with { Output = new CasOutput(null, true), Return = lineNo };
                            break;
                    }

                    break;
            }
        }

        return ops.Where(o => o is not null).ToList()!;
    }

    private static long? ParseValue(string text, Func<string, HistoryFormatException> error)
    {
        if (text == "nil")
        {
            return null;
        }

        if (long.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out var v))
        {
            return v;
        }

        throw error($"expected an integer or nil, found '{text}'");
    }

    private static CasInput ParseCas(string text, Func<string, HistoryFormatException> error)
    {
        var m = Pair().Match(text);
        if (!m.Success)
        {
            throw error($"expected a compare-and-set pair [EXPECTED NEW], found '{text}'");
        }

        return new CasInput(CasOp.Cas, ParseValue(m.Groups[2].Value, error), ParseValue(m.Groups[1].Value, error));
    }

    private static void CheckSameCas(CasInput invoked, CasInput completed, Func<string, HistoryFormatException> error)
    {
        if (invoked.Expected != completed.Expected || invoked.Value != completed.Value)
        {
            throw error($"cas completes with [{Models.Show(completed.Expected)} {Models.Show(completed.Value)}] but was invoked with [{Models.Show(invoked.Expected)} {Models.Show(invoked.Value)}]");
        }
    }
}

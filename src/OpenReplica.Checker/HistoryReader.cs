using System.Text.Json;

namespace OpenReplica.Checker;

/// <summary>
/// Reads the project's JSON-lines history format (one operation per line; see docs/checker.md):
/// <code>
/// {"process":0,"op":"put","key":"x","input":"1","call":10,"return":15}
/// {"process":1,"op":"get","key":"x","output":"1","call":12,"return":20}
/// {"process":2,"op":"cas","key":"x","input":["1","2"],"output":true,"call":30,"return":null}
/// {"process":0,"op":"write","input":3,"call":1,"return":2}
/// </code>
/// Blank lines are ignored; unknown properties are ignored. Errors throw <see cref="HistoryFormatException"/>.
/// </summary>
public static class HistoryReader
{
    /// <summary>Reads a key-value history (ops get, put, append, delete, cas; "key" required; values are strings or null).</summary>
    public static IReadOnlyList<Operation<KvInput, KvOutput>> ReadKeyValueFile(string path)
    {
        using var reader = new StreamReader(path);
        return ReadKeyValue(reader, path);
    }

    /// <summary>Reads a register history (ops read, write, cas; no "key"; values are integers or null).</summary>
    /// <param name="path">The file.</param>
    /// <param name="allowCas">False to reject "cas" lines (for the read/write <see cref="Models.Register"/> model).</param>
    public static IReadOnlyList<Operation<CasInput, CasOutput>> ReadRegisterFile(string path, bool allowCas = true)
    {
        using var reader = new StreamReader(path);
        return ReadRegister(reader, path, allowCas);
    }

    /// <summary>Reads a key-value history; <paramref name="fileName"/> is used in error messages.</summary>
    public static IReadOnlyList<Operation<KvInput, KvOutput>> ReadKeyValue(TextReader reader, string fileName)
        => ReadLines(reader, fileName, ParseKv);

    /// <summary>Reads a register history; <paramref name="fileName"/> is used in error messages.</summary>
    /// <param name="reader">The history.</param>
    /// <param name="fileName">Used in error messages.</param>
    /// <param name="allowCas">False to reject "cas" lines (for the read/write <see cref="Models.Register"/> model).</param>
    public static IReadOnlyList<Operation<CasInput, CasOutput>> ReadRegister(TextReader reader, string fileName, bool allowCas = true)
        => ReadLines(reader, fileName, o => ParseRegister(o, allowCas));

    private sealed class LineError(string message) : Exception(message);

    private static List<Operation<TIn, TOut>> ReadLines<TIn, TOut>(
        TextReader reader,
        string fileName,
        Func<JsonElement, Operation<TIn, TOut>> parse)
    {
        var ops = new List<Operation<TIn, TOut>>();
        var lineNo = 0;
        while (reader.ReadLine() is { } line)
        {
            lineNo++;
            if (string.IsNullOrWhiteSpace(line))
            {
                continue;
            }

            try
            {
                using var doc = JsonDocument.Parse(line);
                if (doc.RootElement.ValueKind != JsonValueKind.Object)
                {
                    throw new LineError($"expected a JSON object, found {Kind(doc.RootElement)}");
                }

                ops.Add(parse(doc.RootElement));
            }
            catch (JsonException e)
            {
                throw new HistoryFormatException(fileName, lineNo, "invalid JSON: " + e.Message, e);
            }
            catch (LineError e)
            {
                throw new HistoryFormatException(fileName, lineNo, e.Message);
            }
        }

        return ops;
    }

    private static Operation<KvInput, KvOutput> ParseKv(JsonElement o)
    {
        var (process, op, call, ret) = Common(o);
        if (!o.TryGetProperty("key", out var keyEl) || keyEl.ValueKind != JsonValueKind.String)
        {
            throw new LineError(keyEl.ValueKind == JsonValueKind.Undefined
                ? $"\"{op}\" needs a \"key\" (string) in a key-value history"
                : $"\"key\" must be a string, found {Kind(keyEl)}");
        }

        var key = keyEl.GetString()!;
        var returned = ret is not null;
        switch (op)
        {
            case "get":
                NoInput(o, op);
                return new(process, new KvInput(KvOp.Get, key), returned ? new KvOutput(KvValue(Required(o, "output", op), "output")) : null, call, ret);
            case "put":
                return new(process, new KvInput(KvOp.Put, key, KvValue(Required(o, "input", op), "input")), returned ? new KvOutput(null, WriteOk(o)) : null, call, ret);
            case "cas":
                var (expected, value) = Pair(Required(o, "input", op), e => KvValue(e, "input"));
                return new(process, new KvInput(KvOp.Cas, key, value, expected), returned ? new KvOutput(null, Bool(Required(o, "output", op), "output")) : null, call, ret);
            case "append":
                var suffix = KvValue(Required(o, "input", op), "input")
                    ?? throw new LineError("\"append\" needs a string \"input\" (the text appended), found null");
                return new(process, new KvInput(KvOp.Append, key, suffix), returned ? new KvOutput(null, WriteOk(o)) : null, call, ret);
            case "delete":
                NoInput(o, op);
                return new(process, new KvInput(KvOp.Delete, key), returned ? new KvOutput(null, WriteOk(o)) : null, call, ret);
            default:
                throw new LineError($"unknown \"op\" \"{op}\" for a key-value history (expected get, put, append, delete or cas)");
        }
    }

    private static Operation<CasInput, CasOutput> ParseRegister(JsonElement o, bool allowCas)
    {
        var (process, op, call, ret) = Common(o);
        if (o.TryGetProperty("key", out var keyEl) && keyEl.ValueKind != JsonValueKind.Null)
        {
            throw new LineError("a register history has no \"key\" (use the key-value model for keyed operations)");
        }

        var returned = ret is not null;
        switch (op)
        {
            case "read":
                NoInput(o, op);
                return new(process, new CasInput(CasOp.Read), returned ? new CasOutput(Integer(Required(o, "output", op), "output")) : null, call, ret);
            case "write":
                return new(process, new CasInput(CasOp.Write, Integer(Required(o, "input", op), "input")), returned ? new CasOutput(null, WriteOk(o)) : null, call, ret);
            case "cas" when !allowCas:
                throw new LineError("\"cas\" is not supported by the register model; use the cas-register model");
            case "cas":
                var (expected, value) = Pair(Required(o, "input", op), e => Integer(e, "input"));
                return new(process, new CasInput(CasOp.Cas, value, expected), returned ? new CasOutput(null, Bool(Required(o, "output", op), "output")) : null, call, ret);
            default:
                throw new LineError($"unknown \"op\" \"{op}\" for a register history (expected read, write or cas)");
        }
    }

    private static (int Process, string Op, long Call, long? Return) Common(JsonElement o)
    {
        var processEl = Required(o, "process", null);
        if (processEl.ValueKind != JsonValueKind.Number || !processEl.TryGetInt32(out var process))
        {
            throw new LineError($"\"process\" must be an integer, found {Kind(processEl)}");
        }

        var opEl = Required(o, "op", null);
        if (opEl.ValueKind != JsonValueKind.String)
        {
            throw new LineError($"\"op\" must be a string, found {Kind(opEl)}");
        }

        var call = Long(Required(o, "call", null), "call");
        long? ret = null;
        if (o.TryGetProperty("return", out var retEl) && retEl.ValueKind != JsonValueKind.Null)
        {
            ret = Long(retEl, "return");
            if (ret < call)
            {
                throw new LineError($"\"return\" ({ret}) is before \"call\" ({call})");
            }
        }

        return (process, opEl.GetString()!, call, ret);
    }

    private static JsonElement Required(JsonElement o, string name, string? op)
    {
        if (o.TryGetProperty(name, out var el))
        {
            return el;
        }

        throw new LineError(op is null ? $"missing \"{name}\"" : $"missing \"{name}\" for \"{op}\"");
    }

    private static void NoInput(JsonElement o, string op)
    {
        if (o.TryGetProperty("input", out var el) && el.ValueKind != JsonValueKind.Null)
        {
            throw new LineError($"\"{op}\" takes no \"input\"");
        }
    }

    private static bool WriteOk(JsonElement o)
        => !o.TryGetProperty("output", out var el) || el.ValueKind == JsonValueKind.Null || Bool(el, "output");

    private static long Long(JsonElement el, string name)
        => el.ValueKind == JsonValueKind.Number && el.TryGetInt64(out var v) ? v : throw new LineError($"\"{name}\" must be an integer, found {Kind(el)}");

    private static long? Integer(JsonElement el, string name)
        => el.ValueKind == JsonValueKind.Null ? null : Long(el, name);

    private static bool Bool(JsonElement el, string name) => el.ValueKind switch
    {
        JsonValueKind.True => true,
        JsonValueKind.False => false,
        _ => throw new LineError($"\"{name}\" must be true or false, found {Kind(el)}"),
    };

    private static string? KvValue(JsonElement el, string name) => el.ValueKind switch
    {
        JsonValueKind.Null => null,
        JsonValueKind.String => el.GetString(),
        JsonValueKind.Number => el.GetRawText(),
        _ => throw new LineError($"\"{name}\" must be a string or null, found {Kind(el)}"),
    };

    private static (T Expected, T Value) Pair<T>(JsonElement el, Func<JsonElement, T> parse)
    {
        if (el.ValueKind != JsonValueKind.Array || el.GetArrayLength() != 2)
        {
            throw new LineError($"cas \"input\" must be [expected, new], found {Kind(el)}");
        }

        return (parse(el[0]), parse(el[1]));
    }

    private static string Kind(JsonElement el) => el.ValueKind switch
    {
        JsonValueKind.Undefined => "nothing",
        JsonValueKind.Array => $"an array of {el.GetArrayLength()}",
        JsonValueKind.Object => "an object",
        _ => el.GetRawText(),
    };
}

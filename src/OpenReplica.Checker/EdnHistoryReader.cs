using System.Globalization;

namespace OpenReplica.Checker;

/// <summary>
/// Reads Jepsen histories written as EDN maps (Jepsen's <c>history.edn</c>, Porcupine's kv test data, Knossos' test
/// data), one event a map, either one after another or inside one vector; a map may span lines:
/// <code>
/// {:process 0, :type :invoke, :f :append, :key "0", :value "x 0 0 y"}
/// {:process 0, :type :ok, :f :append, :key "0", :value "x 0 0 y"}
/// {:type :invoke, :f :cas, :value [3 [1 2]], :process 4, :time 1234, :index 7}
/// </code>
/// Times are the line numbers where the maps start (Jepsen writes events in real-time order). <c>:ok</c> completes an
/// operation; <c>:fail</c> means it certainly did not take effect, so it is dropped (as Knossos does: a failed CAS says
/// nothing about the value, since a CAS can fail for other reasons than a mismatch); <c>:info</c>, or no completion
/// before the end, makes it indeterminate. Events whose <c>:process</c> is not an integer (the nemesis)
/// are skipped, as are blank lines and <c>;</c> comments. A key-value history takes the key from <c>:key</c>, or from a
/// <c>jepsen.independent</c> tuple <c>:value [key value]</c>. Errors throw <see cref="HistoryFormatException"/>.
/// </summary>
public static class EdnHistoryReader
{
    /// <summary>Reads a key-value history (<c>:f</c> get/read, put/write, append, delete, cas).</summary>
    public static IReadOnlyList<Operation<KvInput, KvOutput>> ReadKeyValueFile(string path)
    {
        using var reader = new StreamReader(path);
        return ReadKeyValue(reader, path);
    }

    /// <summary>Reads a key-value history; <paramref name="fileName"/> is used in error messages.</summary>
    public static IReadOnlyList<Operation<KvInput, KvOutput>> ReadKeyValue(TextReader reader, string fileName)
        => Read(reader, fileName, new KvShape());

    /// <summary>Reads a single-register history (<c>:f</c> read, write, cas; integer values).</summary>
    /// <param name="path">The file.</param>
    /// <param name="allowCas">False to reject :cas (for the read/write <see cref="Models.Register"/> model).</param>
    public static IReadOnlyList<Operation<CasInput, CasOutput>> ReadRegisterFile(string path, bool allowCas = true)
    {
        using var reader = new StreamReader(path);
        return ReadRegister(reader, path, allowCas);
    }

    /// <summary>Reads a single-register history; <paramref name="fileName"/> is used in error messages.</summary>
    public static IReadOnlyList<Operation<CasInput, CasOutput>> ReadRegister(TextReader reader, string fileName, bool allowCas = true)
        => Read(reader, fileName, new RegisterShape(allowCas));

    /// <summary>What one event says, before it is matched with its invocation.</summary>
    private sealed record Event(int Process, string Type, string F, object? Key, object? Value, bool HasKey);

    private sealed class LineError(string message) : Exception(message);

    /// <summary>How the events of one model become inputs and outputs.</summary>
    private interface IShape<TIn, TOut>
    {
        TIn Invoke(Event e);

        TOut Ok(Event e, TIn input);
    }

    private static List<Operation<TIn, TOut>> Read<TIn, TOut>(TextReader reader, string fileName, IShape<TIn, TOut> shape)
        where TOut : class
    {
        var ops = new List<Operation<TIn, TOut>?>();
        var pending = new Dictionary<int, (int Index, int Line, string F)>();
        var lineNo = 0;
        try
        {
            foreach (var (line, item) in new EdnReader(reader.ReadToEnd()).ReadItems())
            {
                lineNo = line;
                if (Parse(item) is not { } e)
                {
                    continue; // nemesis
                }

                if (e.Type == "invoke")
                {
                    if (pending.TryGetValue(e.Process, out var open))
                    {
                        throw new LineError($"process {e.Process} invokes an operation while its operation from line {open.Line} is still pending");
                    }

                    pending[e.Process] = (ops.Count, lineNo, e.F);
                    ops.Add(new Operation<TIn, TOut>(e.Process, shape.Invoke(e), null, lineNo, null));
                    continue;
                }

                if (!pending.Remove(e.Process, out var invocation))
                {
                    throw new LineError($"process {e.Process} completes (:{e.Type}) an operation it never invoked");
                }

                if (e.F != invocation.F)
                {
                    throw new LineError($"process {e.Process} completes :{e.F} but invoked :{invocation.F} on line {invocation.Line}");
                }

                var op = ops[invocation.Index]!;
                ops[invocation.Index] = e.Type switch
                {
                    "ok" => op with { Output = shape.Ok(e, op.Input), Return = lineNo },
                    "fail" => null, // did not take effect; nothing observed
                    _ => op, // info: indeterminate
                };
            }
        }
        catch (LineError ex)
        {
            throw new HistoryFormatException(fileName, lineNo, ex.Message);
        }
        catch (EdnException ex)
        {
            throw new HistoryFormatException(fileName, ex.Line, "invalid EDN: " + ex.Message, ex);
        }

        return ops.Where(o => o is not null).ToList()!;
    }

    private static Event? Parse(object? item)
    {
        if (item is not Dictionary<object, object?> map)
        {
            throw new LineError($"expected an EDN map such as {{:process 0, :type :invoke, :f :read, :value nil}}, found {Show(item)}");
        }

        if (!map.TryGetValue(new EdnKeyword("process"), out var processValue))
        {
            throw new LineError("missing :process");
        }

        if (processValue is not long process)
        {
            return null; // :nemesis and other non-client events
        }

        if (process is < 0 or > int.MaxValue)
        {
            throw new LineError($":process {process} is out of range");
        }

        var type = KeywordOf(map, "type", "invoke, ok, fail or info");
        if (type is not ("invoke" or "ok" or "fail" or "info"))
        {
            throw new LineError($":type must be :invoke, :ok, :fail or :info, found :{type}");
        }

        var f = KeywordOf(map, "f", "the operation, e.g. :read");
        var hasKey = map.TryGetValue(new EdnKeyword("key"), out var key);
        map.TryGetValue(new EdnKeyword("value"), out var value);
        return new Event((int)process, type, f, key, value, hasKey);
    }

    private static string KeywordOf(Dictionary<object, object?> map, string name, string expected)
    {
        if (!map.TryGetValue(new EdnKeyword(name), out var v))
        {
            throw new LineError($"missing :{name} ({expected})");
        }

        return v is EdnKeyword k ? k.Name : throw new LineError($":{name} must be a keyword ({expected}), found {Show(v)}");
    }

    private static string Show(object? v) => v switch
    {
        null => "nil",
        string s => $"\"{s}\"",
        List<object?> l => "[" + string.Join(" ", l.Select(Show)) + "]",
        bool b => b ? "true" : "false",
        IFormattable n => n.ToString(null, CultureInfo.InvariantCulture),
        _ => v.ToString() ?? "?",
    };

    private static (object? First, object? Second) PairOf(object? value, string what)
        => value is List<object?> { Count: 2 } l ? (l[0], l[1]) : throw new LineError($"expected {what}, found {Show(value)}");

    private static string Txn(string f)
        => $"unknown :f :{f}" + (f == "txn" ? " (transactions need a transactional checker such as Elle; this one checks single-key operations)" : "");

    private sealed class KvShape : IShape<KvInput, KvOutput>
    {
        public KvInput Invoke(Event e)
        {
            if (e.F is not ("read" or "get" or "write" or "put" or "append" or "delete" or "cas"))
            {
                throw new LineError(Txn(e.F) + " for a key-value history (expected :read/:get, :write/:put, :append, :delete or :cas)");
            }

            var (key, value) = Split(e);
            switch (e.F)
            {
                case "read" or "get":
                    return new KvInput(KvOp.Get, key);
                case "write" or "put":
                    return new KvInput(KvOp.Put, key, Text(value));
                case "append":
                    return new KvInput(KvOp.Append, key, Text(value) ?? throw new LineError("append needs the text to append as :value, found nil"));
                case "delete":
                    return new KvInput(KvOp.Delete, key);
                default:
                    var (expected, next) = PairOf(value, "a compare-and-set [expected new]");
                    return new KvInput(KvOp.Cas, key, Text(next), Text(expected));
            }
        }

        public KvOutput Ok(Event e, KvInput input)
        {
            if (input.Op != KvOp.Get)
            {
                return new KvOutput(null);
            }

            var (key, value) = Split(e);
            if (key != input.Key)
            {
                throw new LineError($"the read completes on key \"{key}\" but was invoked on \"{input.Key}\"");
            }

            return new KvOutput(Text(value));
        }

        /// <summary>The key (from :key, or a jepsen.independent tuple [key value]) and the value.</summary>
        private static (string Key, object? Value) Split(Event e)
        {
            if (e.HasKey)
            {
                return (Text(e.Key) ?? throw new LineError(":key must not be nil"), e.Value);
            }

            var (key, value) = PairOf(e.Value, "a :key, or a :value [key value] (jepsen.independent) in a key-value history");
            return (Text(key) ?? throw new LineError("the key of [key value] must not be nil"), value);
        }

        private static string? Text(object? v) => v switch
        {
            null => null,
            string s => s,
            long or double => Show(v),
            EdnKeyword k => k.Name,
            _ => throw new LineError($"expected a string, number or nil, found {Show(v)}"),
        };
    }

    private sealed class RegisterShape(bool allowCas) : IShape<CasInput, CasOutput>
    {
        public CasInput Invoke(Event e)
        {
            if (e.HasKey)
            {
                throw new LineError("a register history has no :key (use --model kv for keyed operations)");
            }

            switch (e.F)
            {
                case "read":
                    return new CasInput(CasOp.Read);
                case "write":
                    return new CasInput(CasOp.Write, Integer(e.Value));
                case "cas" when !allowCas:
                    throw new LineError("compare-and-set (:cas) is not supported by the register model; use the cas-register model");
                case "cas":
                    var (expected, next) = PairOf(e.Value, "a compare-and-set [expected new] of integers");
                    return new CasInput(CasOp.Cas, Integer(next), Integer(expected));
                default:
                    throw new LineError(Txn(e.F) + " for a register history (expected :read, :write or :cas)");
            }
        }

        public CasOutput Ok(Event e, CasInput input) => input.Op == CasOp.Read ? new CasOutput(Integer(e.Value)) : new CasOutput(null);

        private static long? Integer(object? v) => v switch
        {
            null => null,
            long l => l,
            _ => throw new LineError($"expected an integer or nil, found {Show(v)}"),
        };
    }
}

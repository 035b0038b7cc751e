using System.Text;
using System.Text.Json;

namespace OpenReplica.Checker;

/// <summary>
/// Writes histories in the JSON-lines format read by <see cref="HistoryReader"/>, one operation per line.
/// Thread-safe: concurrent writers (e.g. several test clients) may share one instance.
/// </summary>
public sealed class HistoryWriter : IDisposable
{
    private readonly TextWriter _writer;
    private readonly bool _leaveOpen;
    private readonly Lock _gate = new();

    /// <summary>Writes to <paramref name="writer"/>; disposes it on <see cref="Dispose"/> unless <paramref name="leaveOpen"/>.</summary>
    public HistoryWriter(TextWriter writer, bool leaveOpen = false)
    {
        ArgumentNullException.ThrowIfNull(writer);
        _writer = writer;
        _leaveOpen = leaveOpen;
    }

    /// <summary>Creates (or overwrites) the file at <paramref name="path"/>.</summary>
    public HistoryWriter(string path)
        : this(new StreamWriter(path, append: false, new UTF8Encoding(false)))
    {
    }

    /// <summary>Appends one key-value operation.</summary>
    public void Write(Operation<KvInput, KvOutput> op)
    {
        var line = Format(op);
        lock (_gate)
        {
            _writer.Write(line);
            _writer.Write('\n');
        }
    }

    /// <summary>Appends one register operation.</summary>
    public void Write(Operation<CasInput, CasOutput> op)
    {
        var line = Format(op);
        lock (_gate)
        {
            _writer.Write(line);
            _writer.Write('\n');
        }
    }

    /// <summary>Appends key-value operations.</summary>
    public void WriteAll(IEnumerable<Operation<KvInput, KvOutput>> ops)
    {
        foreach (var op in ops)
        {
            Write(op);
        }
    }

    /// <summary>Appends register operations.</summary>
    public void WriteAll(IEnumerable<Operation<CasInput, CasOutput>> ops)
    {
        foreach (var op in ops)
        {
            Write(op);
        }
    }

    /// <summary>Flushes the underlying writer.</summary>
    public void Flush()
    {
        lock (_gate)
        {
            _writer.Flush();
        }
    }

    /// <inheritdoc />
    public void Dispose()
    {
        lock (_gate)
        {
            _writer.Flush();
            if (!_leaveOpen)
            {
                _writer.Dispose();
            }
        }
    }

    /// <summary>One JSON line (without newline) for a key-value operation.</summary>
    public static string Format(Operation<KvInput, KvOutput> op)
    {
        ArgumentNullException.ThrowIfNull(op);
        return Build(op.Process, op.Call, op.Return, w =>
        {
            var i = op.Input;
            w.WriteString("op", i.Op switch { KvOp.Get => "get", KvOp.Put => "put", KvOp.Append => "append", KvOp.Delete => "delete", _ => "cas" });
            w.WriteString("key", i.Key);
            switch (i.Op)
            {
                case KvOp.Put or KvOp.Append:
                    w.WriteString("input", i.Value);
                    break;
                case KvOp.Cas:
                    w.WriteStartArray("input");
                    w.WriteStringValue(i.Expected);
                    w.WriteStringValue(i.Value);
                    w.WriteEndArray();
                    break;
            }

            if (op.Return is not null && op.Output is { } o)
            {
                if (i.Op == KvOp.Get)
                {
                    w.WriteString("output", o.Value);
                }
                else
                {
                    w.WriteBoolean("output", o.Ok);
                }
            }
        });
    }

    /// <summary>One JSON line (without newline) for a register operation.</summary>
    public static string Format(Operation<CasInput, CasOutput> op)
    {
        ArgumentNullException.ThrowIfNull(op);
        return Build(op.Process, op.Call, op.Return, w =>
        {
            var i = op.Input;
            w.WriteString("op", i.Op switch { CasOp.Read => "read", CasOp.Write => "write", _ => "cas" });
            switch (i.Op)
            {
                case CasOp.Write:
                    WriteLong(w, "input", i.Value);
                    break;
                case CasOp.Cas:
                    w.WriteStartArray("input");
                    WriteLongValue(w, i.Expected);
                    WriteLongValue(w, i.Value);
                    w.WriteEndArray();
                    break;
            }

            if (op.Return is not null && op.Output is { } o)
            {
                if (i.Op == CasOp.Read)
                {
                    WriteLong(w, "output", o.Value);
                }
                else
                {
                    w.WriteBoolean("output", o.Ok);
                }
            }
        });
    }

    private static void WriteLong(Utf8JsonWriter w, string name, long? v)
    {
        w.WritePropertyName(name);
        WriteLongValue(w, v);
    }

    private static void WriteLongValue(Utf8JsonWriter w, long? v)
    {
        if (v is { } x)
        {
            w.WriteNumberValue(x);
        }
        else
        {
            w.WriteNullValue();
        }
    }

    private static string Build(int process, long call, long? ret, Action<Utf8JsonWriter> body)
    {
        var buffer = new System.Buffers.ArrayBufferWriter<byte>(128);
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            w.WriteNumber("process", process);
            body(w);
            w.WriteNumber("call", call);
            if (ret is { } r)
            {
                w.WriteNumber("return", r);
            }
            else
            {
                w.WriteNull("return");
            }

            w.WriteEndObject();
        }

        return Encoding.UTF8.GetString(buffer.WrittenSpan);
    }
}

namespace OpenReplica.Checker;

/// <summary>Key-value operations.</summary>
public enum KvOp
{
    /// <summary>Read a key.</summary>
    Get,

    /// <summary>Write a key.</summary>
    Put,

    /// <summary>Compare-and-set a key.</summary>
    Cas,

    /// <summary>Append <see cref="KvInput.Value"/> to a key's value (an absent key counts as the empty string).</summary>
    Append,

    /// <summary>Delete a key: it reads as the model's initial value again.</summary>
    Delete,
}

/// <summary>A key-value operation. Put, Append: <see cref="Value"/>; Cas: set <see cref="Value"/> if the current value
/// equals <see cref="Expected"/> (null = absent).</summary>
public sealed record KvInput(KvOp Op, string Key, string? Value = null, string? Expected = null);

/// <summary>Response of a key-value operation. Get: the value read (null = absent); Put, Append, Delete: Ok (false =
/// known not to have taken effect); Cas: Ok = whether it took effect. A null <see cref="KvOutput"/> means "unknown".</summary>
public sealed record KvOutput(string? Value, bool Ok = true);

/// <summary>Register operations.</summary>
public enum CasOp
{
    /// <summary>Read the register.</summary>
    Read,

    /// <summary>Write the register.</summary>
    Write,

    /// <summary>Compare-and-set the register.</summary>
    Cas,
}

/// <summary>A register operation. Write: <see cref="Value"/>; Cas: set <see cref="Value"/> if the current value equals
/// <see cref="Expected"/> (null = never written).</summary>
public sealed record CasInput(CasOp Op, long? Value = null, long? Expected = null);

/// <summary>Response of a register operation. Read: the value read (null = never written); Write: Ok (false = known not
/// to have taken effect); Cas: Ok = whether it took effect. A null <see cref="CasOutput"/> means "unknown".</summary>
public sealed record CasOutput(long? Value, bool Ok = true);

/// <summary>The built-in models.</summary>
public static class Models
{
    /// <summary>A map from string keys to string values (absent = null), partitioned by key: each key is checked on its
    /// own, so the state is the value of one key. Every key starts absent: a get of a key never written returns null.</summary>
    public static IModel<string?, KvInput, KvOutput> KeyValue { get; } = new KeyValueModel(null);

    /// <summary>As <see cref="KeyValue"/>, but every key starts as the empty string, as in Porcupine's kv model (a get
    /// of a key never written returns "", and a delete sets it back to "").</summary>
    public static IModel<string?, KvInput, KvOutput> KeyValueStartingEmpty { get; } = new KeyValueModel("");

    /// <summary>As <see cref="KeyValue"/>, with every key starting at <paramref name="initial"/> (null = absent).</summary>
    public static IModel<string?, KvInput, KvOutput> KeyValueStartingWith(string? initial) => new KeyValueModel(initial);

    /// <summary>As <see cref="CasRegister"/>, starting at <paramref name="initial"/> instead of null (Knossos'
    /// <c>(cas-register 0)</c> starts at 0).</summary>
    public static IModel<long?, CasInput, CasOutput> CasRegisterStartingWith(long? initial) => new RegisterModel(allowCas: true, initial);

    /// <summary>As <see cref="Register"/>, starting at <paramref name="initial"/> instead of null.</summary>
    public static IModel<long?, CasInput, CasOutput> RegisterStartingWith(long? initial) => new RegisterModel(allowCas: false, initial);

    /// <summary>A register of <c>long?</c> (null = never written) with read, write and compare-and-set.</summary>
    public static IModel<long?, CasInput, CasOutput> CasRegister { get; } = new RegisterModel(allowCas: true, null);

    /// <summary>A register of <c>long?</c> with read and write only (a Cas input is a usage error and throws).</summary>
    public static IModel<long?, CasInput, CasOutput> Register { get; } = new RegisterModel(allowCas: false, null);

    internal static string Show(long? v) => v?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? "nil";

    internal static string Show(string? v) => v is null ? "nil" : $"\"{v}\"";

    private sealed class RegisterModel(bool allowCas, long? initial) : IModel<long?, CasInput, CasOutput>
    {
        public long? Init() => initial;

        public (bool Ok, long? Next) Step(long? state, CasInput input, CasOutput? output)
        {
            switch (input.Op)
            {
                case CasOp.Read:
                    return (output is null || output.Value == state, state);
                case CasOp.Write:
                    // A write known to have failed has no effect; otherwise it takes effect where it is linearized.
                    return (true, output is { Ok: false } ? state : input.Value);
                case CasOp.Cas when allowCas:
                    var applies = state == input.Expected;
                    var next = applies ? input.Value : state;
                    return (output is null || output.Ok == applies, next);
                default:
                    throw new NotSupportedException($"The {(allowCas ? "cas-register" : "register")} model does not support {input.Op}; use Models.CasRegister for compare-and-set.");
            }
        }

        public (bool Ok, long? Next) StepIndeterminate(long? state, CasInput input) => Step(state, input, null);

        public string DescribeOperation(CasInput input, CasOutput? output, bool indeterminate)
        {
            var call = input.Op switch
            {
                CasOp.Read => "read",
                CasOp.Write => $"write({Show(input.Value)})",
                _ => $"cas({Show(input.Expected)} -> {Show(input.Value)})",
            };
            if (indeterminate || output is null)
            {
                return call + " -> ?";
            }

            return input.Op switch
            {
                CasOp.Read => $"{call} -> {Show(output.Value)}",
                _ => output.Ok ? $"{call} ok" : $"{call} failed",
            };
        }

        public string DescribeState(long? state) => Show(state);
    }

    private sealed class KeyValueModel(string? initial) : IModel<string?, KvInput, KvOutput>
    {
        public string? Init() => initial;

        public (bool Ok, string? Next) Step(string? state, KvInput input, KvOutput? output)
        {
            switch (input.Op)
            {
                case KvOp.Get:
                    return (output is null || string.Equals(output.Value, state, StringComparison.Ordinal), state);
                case KvOp.Put:
                    return (true, output is { Ok: false } ? state : input.Value);
                case KvOp.Cas:
                    var applies = string.Equals(state, input.Expected, StringComparison.Ordinal);
                    var next = applies ? input.Value : state;
                    return (output is null || output.Ok == applies, next);
                case KvOp.Append:
                    return (true, output is { Ok: false } ? state : string.Concat(state, input.Value));
                case KvOp.Delete:
                    return (true, output is { Ok: false } ? state : initial);
                default:
                    throw new NotSupportedException($"Unknown key-value operation {input.Op}.");
            }
        }

        public (bool Ok, string? Next) StepIndeterminate(string? state, KvInput input) => Step(state, input, null);

        public string? PartitionKey(KvInput input) => input.Key;

        public IEqualityComparer<string?> StateComparer => StringComparer.Ordinal;

        public string DescribeState(string? state) => Show(state);

        public string DescribeOperation(KvInput input, KvOutput? output, bool indeterminate)
        {
            var call = input.Op switch
            {
                KvOp.Get => $"get({Show(input.Key)})",
                KvOp.Put => $"put({Show(input.Key)}, {Show(input.Value)})",
                KvOp.Append => $"append({Show(input.Key)}, {Show(input.Value)})",
                KvOp.Delete => $"delete({Show(input.Key)})",
                _ => $"cas({Show(input.Key)}, {Show(input.Expected)} -> {Show(input.Value)})",
            };
            if (indeterminate || output is null)
            {
                return call + " -> ?";
            }

            return input.Op switch
            {
                KvOp.Get => $"{call} -> {Show(output.Value)}",
                _ => output.Ok ? $"{call} ok" : $"{call} failed",
            };
        }
    }
}

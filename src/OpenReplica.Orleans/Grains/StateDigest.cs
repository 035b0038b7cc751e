using System.Buffers.Binary;
using System.Collections;
using System.Collections.Concurrent;
using System.IO.Hashing;
using System.Reflection;
using System.Runtime.CompilerServices;
using System.Text;

namespace OpenReplica.Orleans;

/// <summary>
/// A 64-bit digest (XxHash3) of a grain's State that two replicas holding equal states compute alike, however each
/// got there (live calls, a snapshot plus replay). It walks the object graph instead of hashing serialized bytes,
/// because serialization is not canonical: a Dictionary or HashSet enumerates in an order that depends on its
/// insertion and removal history, which differs between an activation that ran the calls and one that loaded a
/// snapshot. So:
/// <list type="bullet">
/// <item>unordered collections (dictionaries, sets) are hashed as multisets (their entries' digests, sorted);</item>
/// <item>other collections and arrays in order;</item>
/// <item>every other object by its type name and every instance field (private ones too, so a property missing its
/// serializer [Id] shows up as a difference after a snapshot), skipping [NonSerialized] fields and fields that hold
/// their default value (a field added by a newer version of the grain leaves the digest alone until it is set);</item>
/// <item>delegates and pointers by type only (their values are addresses).</item>
/// </list>
/// </summary>
internal static class StateDigest
{
    /// <summary>Deeper graphs are cut here (the rest counts as one marker): State is data, not a linked list of millions.</summary>
    public const int MaxDepth = 256;

    private static readonly ConcurrentDictionary<Type, FieldInfo[]> Fields = new();

    public static ulong Compute(object? state)
    {
        var hash = new XxHash3();
        var path = new HashSet<object>(ReferenceEqualityComparer.Instance);
        Write(hash, state, depth: 0, path);
        return hash.GetCurrentHashAsUInt64();
    }

    private static void Write(XxHash3 hash, object? value, int depth, HashSet<object> path)
    {
        if (value is null)
        {
            Tag(hash, 0);
            return;
        }

        if (depth >= MaxDepth)
        {
            Tag(hash, 1);
            return;
        }

        var type = value.GetType();
        if (WriteScalar(hash, value, type)) return;
        if (!type.IsValueType && !path.Add(value))
        {
            Tag(hash, 2); // a cycle back to an object on the current path
            return;
        }

        try
        {
            Text(hash, type.FullName ?? type.Name);
            switch (value)
            {
                case Delegate:
                    return;
                case IEnumerable sequence when IsUnordered(type):
                    WriteUnordered(hash, sequence.Cast<object?>(), depth, path);
                    return;
                case IEnumerable sequence:
                    long count = 0;
                    foreach (var item in sequence)
                    {
                        Write(hash, item, depth + 1, path);
                        count++;
                    }
                    Int(hash, count);
                    return;
            }

            foreach (var field in FieldsOf(type))
            {
                var fieldValue = field.GetValue(value);
                if (IsDefault(fieldValue, field.FieldType)) continue;
                Text(hash, field.Name);
                Write(hash, fieldValue, depth + 1, path);
            }
        }
        finally
        {
            if (!type.IsValueType) path.Remove(value);
        }
    }

    /// <summary>Values hashed by their bits: primitives, strings, and the framework's value types with no useful fields to walk.</summary>
    private static bool WriteScalar(XxHash3 hash, object value, Type type)
    {
        switch (value)
        {
            case string s:
                Tag(hash, 3);
                Text(hash, s);
                return true;
            case byte[] bytes:
                Tag(hash, 4);
                Int(hash, bytes.Length);
                hash.Append(bytes);
                return true;
            case bool b: Int(hash, b ? 1 : 0); return true;
            case char c: Int(hash, c); return true;
            case float f: Int(hash, BitConverter.SingleToInt32Bits(f)); return true;
            case double d: Int(hash, BitConverter.DoubleToInt64Bits(d)); return true;
            case decimal m:
                Span<int> bits = stackalloc int[4];
                decimal.GetBits(m, bits);
                foreach (int part in bits) Int(hash, part);
                return true;
            case DateTime t: Int(hash, t.Ticks); Int(hash, (int)t.Kind); return true;
            case DateTimeOffset o: Int(hash, o.UtcTicks); Int(hash, o.Offset.Ticks); return true;
            case Type t: Text(hash, t.AssemblyQualifiedName ?? t.Name); return true;
            case IntPtr or UIntPtr: Tag(hash, 5); return true;
        }

        if (type.IsEnum || type.IsPrimitive)
        {
            Int(hash, Convert.ToInt64(value, System.Globalization.CultureInfo.InvariantCulture));
            return true;
        }
        return false;
    }

    /// <summary>Sets and dictionaries: the digests of their entries, sorted, so insertion history does not matter.</summary>
    private static void WriteUnordered(XxHash3 hash, IEnumerable<object?> items, int depth, HashSet<object> path)
    {
        var digests = new List<ulong>();
        foreach (var item in items)
        {
            var inner = new XxHash3();
            Write(inner, item, depth + 1, path);
            digests.Add(inner.GetCurrentHashAsUInt64());
        }
        digests.Sort();
        foreach (var digest in digests) Int(hash, (long)digest);
        Int(hash, digests.Count);
    }

    private static bool IsUnordered(Type type) =>
        typeof(IDictionary).IsAssignableFrom(type) || type.GetInterfaces().Any(i => i.IsGenericType && i.GetGenericTypeDefinition() is var d
            && (d == typeof(ISet<>) || d == typeof(IReadOnlySet<>) || d == typeof(IDictionary<,>) || d == typeof(IReadOnlyDictionary<,>)));

    private static FieldInfo[] FieldsOf(Type type) => Fields.GetOrAdd(type, static t =>
    {
        var fields = new List<FieldInfo>();
        for (var current = t; current is not null && current != typeof(object); current = current.BaseType)
        {
            fields.AddRange(current.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.DeclaredOnly)
                .Where(f => !f.IsDefined(typeof(NonSerializedAttribute)) && !f.FieldType.IsPointer));
        }
        return [.. fields.OrderBy(f => f.DeclaringType!.FullName, StringComparer.Ordinal).ThenBy(f => f.Name, StringComparer.Ordinal)];
    });

    private static bool IsDefault(object? value, Type fieldType) =>
        value is null || (fieldType.IsValueType && value.Equals(RuntimeHelpers.GetUninitializedObject(fieldType)));

    private static void Tag(XxHash3 hash, byte tag) => hash.Append([tag]);

    private static void Int(XxHash3 hash, long value)
    {
        Span<byte> bytes = stackalloc byte[sizeof(long)];
        BinaryPrimitives.WriteInt64LittleEndian(bytes, value);
        hash.Append(bytes);
    }

    private static void Text(XxHash3 hash, string text)
    {
        Int(hash, text.Length);
        hash.Append(Encoding.UTF8.GetBytes(text));
    }
}

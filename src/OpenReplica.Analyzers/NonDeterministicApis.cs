using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Operations;

namespace OpenReplica.Analyzers;

/// <summary>A use of an API that breaks determinism: which rule, how to name it, and the deterministic replacement if any.</summary>
internal readonly struct ApiFinding
{
    public ApiFinding(DiagnosticDescriptor rule, string api, string? replacement = null)
    {
        Rule = rule;
        Api = api;
        Replacement = replacement;
    }

    public DiagnosticDescriptor Rule { get; }

    public string Api { get; }

    /// <summary>An expression that replaces the whole operation inside a replicated grain (the code fix), or null.</summary>
    public string? Replacement { get; }
}

/// <summary>
/// Which framework and Orleans APIs are non-deterministic, by containing type and member. Matching is by metadata
/// name, so the analyzer needs no reference to the APIs it recognizes.
/// </summary>
internal static class NonDeterministicApis
{
    private static readonly ImmutableHashSet<string> IoTypes = ImmutableHashSet.Create(
        "System.Console", "System.IO.File", "System.IO.FileInfo", "System.IO.Directory", "System.IO.DirectoryInfo",
        "System.IO.FileSystemInfo", "System.IO.FileStream", "System.IO.DriveInfo", "System.IO.FileSystemWatcher",
        "System.IO.RandomAccess", "System.Diagnostics.Process", "System.AppDomain");

    private static readonly ImmutableArray<string> IoNamespaces = ImmutableArray.Create(
        "System.Net", "System.IO.Pipes", "System.IO.MemoryMappedFiles", "System.IO.IsolatedStorage", "System.IO.Ports");

    private static readonly ImmutableHashSet<string> IoPathMembers = ImmutableHashSet.Create(
        "GetTempPath", "GetTempFileName", "GetRandomFileName", "GetFullPath");

    private static readonly ImmutableHashSet<string> ThreadTypes = ImmutableHashSet.Create(
        "System.Threading.Thread", "System.Threading.ThreadPool", "System.Threading.Tasks.Parallel",
        "System.Linq.ParallelEnumerable", "System.Threading.Tasks.TaskFactory");

    private static readonly ImmutableHashSet<string> TimerTypes = ImmutableHashSet.Create(
        "System.Threading.Timer", "System.Timers.Timer", "System.Threading.PeriodicTimer");

    private static readonly ImmutableHashSet<string> OrleansTimerMembers = ImmutableHashSet.Create(
        "RegisterTimer", "RegisterGrainTimer", "RegisterOrUpdateReminder", "UnregisterReminder");

    /// <summary>The finding for a property, field, method or constructor use, or null when it is deterministic.</summary>
    public static ApiFinding? Classify(IOperation operation) => operation switch
    {
        IPropertyReferenceOperation p => Classify(p.Property, $"{p.Property.ContainingType.Name}.{p.Property.Name}", isConstructor: false, operation),
        IInvocationOperation i => Classify(i.TargetMethod, $"{i.TargetMethod.ContainingType.Name}.{i.TargetMethod.Name}", isConstructor: false, operation),
        IObjectCreationOperation { Constructor: { } c } => Classify(c, $"new {c.ContainingType.Name}", isConstructor: true, operation),
        _ => null,
    };

    private static ApiFinding? Classify(ISymbol member, string api, bool isConstructor, IOperation operation)
    {
        var type = member.ContainingType;
        if (type is null) return null;
        string typeName = FullName(type);
        string name = member.Name;
        switch (typeName)
        {
            case "System.DateTime":
                return name switch
                {
                    "UtcNow" => new ApiFinding(DeterminismRules.WallClock, api, "Replicated.Now.UtcDateTime"),
                    "Now" => new ApiFinding(DeterminismRules.WallClock, api, "Replicated.Now.UtcDateTime"),
                    "Today" => new ApiFinding(DeterminismRules.WallClock, api, "Replicated.Now.UtcDateTime.Date"),
                    _ => null,
                };
            case "System.DateTimeOffset":
                return name is "UtcNow" or "Now" ? new ApiFinding(DeterminismRules.WallClock, api, "Replicated.Now") : null;
            case "System.Diagnostics.Stopwatch":
                return new ApiFinding(DeterminismRules.WallClock, api);
            case "System.TimeProvider":
                return name is "System" or "GetUtcNow" or "GetLocalNow" or "GetTimestamp" or "GetElapsedTime" ? new ApiFinding(DeterminismRules.WallClock, api)
                    : name is "CreateTimer" ? new ApiFinding(DeterminismRules.TimerOrDelay, api) : null;
            case "System.Environment":
                return name is "TickCount" or "TickCount64" ? new ApiFinding(DeterminismRules.WallClock, api)
                    : name is "NewLine" ? null
                    : new ApiFinding(DeterminismRules.InputOutput, api);
            case "System.Random":
                if (isConstructor)
                {
                    bool seeded = operation is IObjectCreationOperation { Arguments.Length: > 0 };
                    return new ApiFinding(DeterminismRules.Randomness, api, seeded ? null : "Replicated.Random");
                }
                return name == "Shared" ? new ApiFinding(DeterminismRules.Randomness, api, "Replicated.Random") : null;
            case "System.Guid":
                return name == "NewGuid" ? new ApiFinding(DeterminismRules.Randomness, api, "Replicated.NewGuid()")
                    : name == "CreateVersion7" ? new ApiFinding(DeterminismRules.Randomness, api) : null;
            case "System.Security.Cryptography.RandomNumberGenerator":
                return new ApiFinding(DeterminismRules.Randomness, api);
            case "System.IO.Path":
                return IoPathMembers.Contains(name) ? new ApiFinding(DeterminismRules.InputOutput, api) : null;
            case "System.IO.StreamReader":
            case "System.IO.StreamWriter":
                return isConstructor && member is IMethodSymbol { Parameters.Length: > 0 } ctor && ctor.Parameters[0].Type.SpecialType == SpecialType.System_String
                    ? new ApiFinding(DeterminismRules.InputOutput, api) : null;
            case "System.Threading.Tasks.Task":
                return name switch
                {
                    "Delay" => new ApiFinding(DeterminismRules.TimerOrDelay, api),
                    "Run" or "WhenAny" or "Factory" => new ApiFinding(DeterminismRules.Threading, api),
                    _ => null,
                };
            case "System.Threading.CancellationTokenSource":
                return name == "CancelAfter" || (isConstructor && member is IMethodSymbol { Parameters.Length: > 0 })
                    ? new ApiFinding(DeterminismRules.TimerOrDelay, api) : null;
            case "System.Threading.Thread" when name is "Sleep" or "SpinWait":
                return new ApiFinding(DeterminismRules.TimerOrDelay, api);
        }

        if (TimerTypes.Contains(typeName)) return new ApiFinding(DeterminismRules.TimerOrDelay, api);
        if (ThreadTypes.Contains(typeName)) return new ApiFinding(DeterminismRules.Threading, api);
        if (IoTypes.Contains(typeName) || IsInNamespace(type, IoNamespaces)) return new ApiFinding(DeterminismRules.InputOutput, api);
        if (OrleansTimerMembers.Contains(name) && IsInNamespace(type, ImmutableArray.Create("Orleans"))) return new ApiFinding(DeterminismRules.TimerOrDelay, api);
        if (IsGrainCall(member, typeName, operation)) return new ApiFinding(DeterminismRules.GrainCall, api);
        return null;
    }

    private static bool IsGrainCall(ISymbol member, string typeName, IOperation operation)
    {
        if (typeName is "Orleans.IGrainFactory" or "Orleans.IClusterClient") return true;
        if (member.Name == "GrainFactory" && typeName == "Orleans.Grain") return true;
        // A method called through a grain reference (a grain interface), including this grain's own reference: it
        // is a message, answered outside this call and not recorded in the log.
        return operation is IInvocationOperation { Instance: { } instance }
            && instance.Type is INamedTypeSymbol { TypeKind: TypeKind.Interface } receiver
            && IsGrainInterface(receiver);
    }

    public static bool IsGrainInterface(INamedTypeSymbol type) =>
        type.TypeKind == TypeKind.Interface
        && (FullName(type) == "Orleans.Runtime.IAddressable" || type.AllInterfaces.Any(i => FullName(i) == "Orleans.Runtime.IAddressable"))
        && !type.AllInterfaces.Any(i => FullName(i) == "Orleans.Runtime.IGrainExtension");

    private static bool IsInNamespace(INamedTypeSymbol type, ImmutableArray<string> namespaces)
    {
        string ns = type.ContainingNamespace?.ToDisplayString() ?? "";
        foreach (var candidate in namespaces)
        {
            if (ns == candidate || ns.StartsWith(candidate + ".", System.StringComparison.Ordinal)) return true;
        }
        return false;
    }

    public static string FullName(ITypeSymbol type)
    {
        var definition = type.OriginalDefinition;
        string ns = definition.ContainingNamespace is { IsGlobalNamespace: false } n ? n.ToDisplayString() + "." : "";
        return ns + definition.MetadataName;
    }
}

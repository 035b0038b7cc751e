using System.Linq;
using Microsoft.CodeAnalysis;

namespace OpenReplica.Analyzers;

/// <summary>What the analyzer needs to know about a class deriving from <c>ReplicatedGrain&lt;TState&gt;</c>.</summary>
internal static class ReplicatedGrainModel
{
    public const string ReplicatedGrainName = "OpenReplica.Orleans.ReplicatedGrain`1";
    public const string ReadOnlyAttributeName = "Orleans.Concurrency.ReadOnlyAttribute";

    public static bool IsReplicatedGrain(INamedTypeSymbol type)
    {
        for (var t = type.BaseType; t is not null; t = t.BaseType)
        {
            if (NonDeterministicApis.FullName(t) == ReplicatedGrainName) return true;
        }
        return false;
    }

    /// <summary>The <c>State</c> property of <c>ReplicatedGrain&lt;TState&gt;</c>.</summary>
    public static bool IsStateProperty(IPropertySymbol property) =>
        property.Name == "State" && NonDeterministicApis.FullName(property.ContainingType) == ReplicatedGrainName;

    /// <summary>
    /// How a method of <paramref name="grain"/> is called from outside: as a replicated command, as a [ReadOnly]
    /// query, or not at all (a helper, reached only through the methods that call it).
    /// </summary>
    public static EntryKind EntryKindOf(IMethodSymbol method, INamedTypeSymbol grain)
    {
        if (method.IsStatic || method.MethodKind != MethodKind.Ordinary) return EntryKind.None;
        bool implementsGrainMethod = false;
        bool readOnly = HasReadOnly(method);
        foreach (var @interface in grain.AllInterfaces)
        {
            if (!NonDeterministicApis.IsGrainInterface(@interface)) continue;
            foreach (var member in @interface.GetMembers().OfType<IMethodSymbol>())
            {
                if (!SymbolEqualityComparer.Default.Equals(grain.FindImplementationForInterfaceMember(member), method)) continue;
                implementsGrainMethod = true;
                readOnly |= HasReadOnly(member);
            }
        }

        if (implementsGrainMethod) return readOnly ? EntryKind.ReadOnly : EntryKind.Replicated;
        // A base class cannot know which of its methods a derived grain exposes or calls from a replicated method:
        // its non-private methods count as replicated, except Orleans' lifecycle overrides (activation, not the log).
        if (!grain.IsSealed && method.DeclaredAccessibility != Accessibility.Private && !IsLifecycleOverride(method))
        {
            return readOnly ? EntryKind.ReadOnly : EntryKind.Replicated;
        }
        return EntryKind.None;
    }

    private static bool HasReadOnly(IMethodSymbol method) =>
        method.GetAttributes().Any(a => a.AttributeClass is { } c && NonDeterministicApis.FullName(c) == ReadOnlyAttributeName);

    private static bool IsLifecycleOverride(IMethodSymbol method)
    {
        for (var overridden = method.OverriddenMethod; overridden is not null; overridden = overridden.OverriddenMethod)
        {
            string owner = NonDeterministicApis.FullName(overridden.ContainingType);
            if (owner is "Orleans.Grain" or ReplicatedGrainName) return true;
        }
        return false;
    }
}

internal enum EntryKind { None, Replicated, ReadOnly }

using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CSharp.Testing;
using Microsoft.CodeAnalysis.Testing;

namespace OpenReplica.Analyzers.Tests;

/// <summary>
/// Runs <see cref="DeterminismAnalyzer"/> (and its code fix) over test sources compiled against this process's own
/// assemblies: the real OpenReplica.Orleans and Orleans API, no reference packs downloaded.
/// </summary>
internal static class Verify
{
    /// <summary>Usings every test source starts with, so a test shows only its grain.</summary>
    public const string Usings = """
        using System;
        using System.Collections.Generic;
        using System.Diagnostics;
        using System.Diagnostics.CodeAnalysis;
        using System.Threading;
        using System.Threading.Tasks;
        using OpenReplica.Orleans;
        using Orleans;
        using Orleans.Concurrency;

        """;

    private static readonly MetadataReference[] References =
        ((string)AppContext.GetData("TRUSTED_PLATFORM_ASSEMBLIES")!)
            .Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries)
            .Where(path => path.EndsWith(".dll", StringComparison.OrdinalIgnoreCase))
            .Select(path => (MetadataReference)MetadataReference.CreateFromFile(path))
            .ToArray();

    public static DiagnosticResult Diagnostic(string id) => CSharpAnalyzerVerifier<DeterminismAnalyzer, DefaultVerifier>.Diagnostic(id);

    /// <summary>Checks that <paramref name="source"/> yields exactly the diagnostics marked in it (<c>{|ORD001:...|}</c>).</summary>
    public static Task AnalyzerAsync(string source)
    {
        var test = new CSharpAnalyzerTest<DeterminismAnalyzer, DefaultVerifier> { TestCode = Usings + source };
        Configure(test.TestState);
        return test.RunAsync(TestContext.Current.CancellationToken);
    }

    /// <summary>Checks the diagnostics of <paramref name="source"/> and that the code fix turns it into <paramref name="fixedSource"/>.</summary>
    public static Task CodeFixAsync(string source, string fixedSource)
    {
        var test = new CSharpCodeFixTest<DeterminismAnalyzer, ReplicatedReplacementCodeFix, DefaultVerifier>
        {
            TestCode = Usings + source,
            FixedCode = Usings + fixedSource,
        };
        Configure(test.TestState);
        Configure(test.FixedState);
        return test.RunAsync(TestContext.Current.CancellationToken);
    }

    private static void Configure(SolutionState state)
    {
        state.ReferenceAssemblies = new ReferenceAssemblies("net10.0");
        state.AdditionalReferences.AddRange(References);
    }
}

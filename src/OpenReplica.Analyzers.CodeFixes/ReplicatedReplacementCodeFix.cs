using System.Collections.Immutable;
using System.Composition;
using System.Threading.Tasks;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.CodeActions;
using Microsoft.CodeAnalysis.CodeFixes;
using Microsoft.CodeAnalysis.CSharp;
using Microsoft.CodeAnalysis.Formatting;

namespace OpenReplica.Analyzers;

/// <summary>
/// Replaces a wall-clock read or a random/identity source in a replicated method with its deterministic counterpart
/// from the replicated context (<c>Replicated.Now</c>, <c>Replicated.Random</c>, <c>Replicated.NewGuid()</c>): the
/// analyzer puts the replacement expression in the diagnostic when one exists.
/// </summary>
[ExportCodeFixProvider(LanguageNames.CSharp, Name = nameof(ReplicatedReplacementCodeFix)), Shared]
public sealed class ReplicatedReplacementCodeFix : CodeFixProvider
{
    public override ImmutableArray<string> FixableDiagnosticIds { get; } =
        ImmutableArray.Create(DeterminismRules.WallClock.Id, DeterminismRules.Randomness.Id);

    public override FixAllProvider GetFixAllProvider() => WellKnownFixAllProviders.BatchFixer;

    public override async Task RegisterCodeFixesAsync(CodeFixContext context)
    {
        var root = await context.Document.GetSyntaxRootAsync(context.CancellationToken).ConfigureAwait(false);
        if (root is null) return;
        foreach (var diagnostic in context.Diagnostics)
        {
            if (!diagnostic.Properties.TryGetValue(DeterminismAnalyzer.ReplacementProperty, out var replacement) || replacement is null) continue;
            var node = root.FindNode(diagnostic.Location.SourceSpan, getInnermostNodeForTie: true);
            context.RegisterCodeFix(
                CodeAction.Create(
                    $"Use {replacement}",
                    _ => Task.FromResult(context.Document.WithSyntaxRoot(root.ReplaceNode(node,
                        SyntaxFactory.ParseExpression(replacement).WithTriviaFrom(node).WithAdditionalAnnotations(Formatter.Annotation)))),
                    equivalenceKey: replacement),
                diagnostic);
        }
    }
}

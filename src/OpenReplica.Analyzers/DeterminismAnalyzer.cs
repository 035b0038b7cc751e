using System.Collections.Concurrent;
using System.Collections.Generic;
using System.Collections.Immutable;
using System.Linq;
using Microsoft.CodeAnalysis;
using Microsoft.CodeAnalysis.Diagnostics;
using Microsoft.CodeAnalysis.Operations;

namespace OpenReplica.Analyzers;

/// <summary>
/// Reports non-deterministic code in the methods of a replicated grain that run inside the state change: methods
/// that implement a grain interface method not marked [ReadOnly], and every member of the class they call
/// (transitively). Also reports [ReadOnly] methods that change State or call a state-changing method. Each class is
/// analyzed once: its operations are collected, then the call graph decides what is reachable from where.
/// </summary>
[DiagnosticAnalyzer(LanguageNames.CSharp)]
public sealed class DeterminismAnalyzer : DiagnosticAnalyzer
{
    /// <summary>Diagnostic property: the expression the code fix puts in place of the reported one.</summary>
    public const string ReplacementProperty = "Replacement";

    public override ImmutableArray<DiagnosticDescriptor> SupportedDiagnostics { get; } = ImmutableArray.Create(
        DeterminismRules.WallClock, DeterminismRules.Randomness, DeterminismRules.InputOutput, DeterminismRules.TimerOrDelay,
        DeterminismRules.GrainCall, DeterminismRules.StaticWrite, DeterminismRules.Threading, DeterminismRules.ForeignAwait,
        DeterminismRules.ReadOnlyWritesState, DeterminismRules.ReadOnlyCallsCommand);

    public override void Initialize(AnalysisContext context)
    {
        context.ConfigureGeneratedCodeAnalysis(GeneratedCodeAnalysisFlags.None);
        context.EnableConcurrentExecution();
        context.RegisterSymbolStartAction(StartType, SymbolKind.NamedType);
    }

    private static void StartType(SymbolStartAnalysisContext context)
    {
        var grain = (INamedTypeSymbol)context.Symbol;
        if (grain.TypeKind != TypeKind.Class || !ReplicatedGrainModel.IsReplicatedGrain(grain)) return;
        var facts = new GrainFacts(grain);
        context.RegisterOperationAction(facts.Collect,
            OperationKind.PropertyReference, OperationKind.Invocation, OperationKind.ObjectCreation, OperationKind.Await,
            OperationKind.SimpleAssignment, OperationKind.CompoundAssignment, OperationKind.CoalesceAssignment,
            OperationKind.Increment, OperationKind.Decrement, OperationKind.Argument, OperationKind.MethodReference,
            OperationKind.Loop);
        context.RegisterSymbolEndAction(facts.Report);
    }

    /// <summary>One finding, before the call graph says whether it is reached from a replicated or a [ReadOnly] method.</summary>
    private sealed class Finding(IMethodSymbol method, DiagnosticDescriptor rule, Location location, string api, string? replacement)
    {
        public IMethodSymbol Method { get; } = method;
        public DiagnosticDescriptor Rule { get; } = rule;
        public Location Location { get; } = location;
        public string Api { get; } = api;
        public string? Replacement { get; } = replacement;
    }

    /// <summary>A call from one member of the grain to another, with where it happens (for ORD010).</summary>
    private sealed class Call(IMethodSymbol caller, IMethodSymbol callee, Location location)
    {
        public IMethodSymbol Caller { get; } = caller;
        public IMethodSymbol Callee { get; } = callee;
        public Location Location { get; } = location;
    }

    private sealed class GrainFacts(INamedTypeSymbol grain)
    {
        private readonly ConcurrentBag<Finding> _findings = [];
        private readonly ConcurrentBag<Finding> _stateWrites = [];
        private readonly ConcurrentBag<Call> _calls = [];

        public void Collect(OperationAnalysisContext context)
        {
            if (ContainingMethod(context.ContainingSymbol) is not { } method) return;
            var operation = context.Operation;
            switch (operation)
            {
                case IAwaitOperation awaited:
                    CollectAwait(method, awaited);
                    return;
                case IForEachLoopOperation { IsAsynchronous: true } loop:
                    if (!IsOwnCall(Unwrap(loop.Collection)))
                    {
                        _findings.Add(new Finding(method, DeterminismRules.ForeignAwait, loop.Collection.Syntax.GetLocation(), "await foreach", null));
                    }
                    return;
                case ILoopOperation:
                    return;
                case IMethodReferenceOperation reference:
                    AddCall(method, reference.Method, reference.Syntax.GetLocation());
                    return;
                case IArgumentOperation argument:
                    if (argument.Parameter is { RefKind: RefKind.Ref or RefKind.Out } && WrittenStaticMember(argument.Value) is { } refTarget)
                    {
                        _findings.Add(new Finding(method, DeterminismRules.StaticWrite, argument.Value.Syntax.GetLocation(), refTarget, null));
                    }
                    if (argument.Parameter is { RefKind: RefKind.Ref or RefKind.Out } && IsRootedInState(argument.Value))
                    {
                        _stateWrites.Add(new Finding(method, DeterminismRules.ReadOnlyWritesState, argument.Value.Syntax.GetLocation(), argument.Value.Syntax.ToString(), null));
                    }
                    return;
                case IAssignmentOperation assignment:
                    CollectWrite(method, assignment.Target, assignment.Syntax);
                    return;
                case IIncrementOrDecrementOperation step:
                    CollectWrite(method, step.Target, step.Syntax);
                    return;
            }

            if (operation is IPropertyReferenceOperation property && IsMember(property.Property.ContainingType))
            {
                if (property.Property.GetMethod is { } getter) AddCall(method, getter, property.Syntax.GetLocation());
                if (property.Property.SetMethod is { } setter) AddCall(method, setter, property.Syntax.GetLocation());
            }
            if (operation is IInvocationOperation invocation)
            {
                if (IsMember(invocation.TargetMethod.ContainingType)) AddCall(method, invocation.TargetMethod, invocation.Syntax.GetLocation());
                if (IsStateMutator(invocation))
                {
                    _stateWrites.Add(new Finding(method, DeterminismRules.ReadOnlyWritesState, invocation.Syntax.GetLocation(), invocation.Syntax.ToString(), null));
                }
            }

            if (NonDeterministicApis.Classify(operation) is not { } api) return;
            if (api.Rule == DeterminismRules.GrainCall && IsReceiverOfGrainCall(operation)) return; // reported once, at the call
            // The replacement uses the grain's protected Replicated property: only offered where it is in scope.
            string? replacement = method.IsStatic ? null : api.Replacement;
            _findings.Add(new Finding(method, api.Rule, operation.Syntax.GetLocation(), api.Api, replacement));
        }

        private void CollectAwait(IMethodSymbol method, IAwaitOperation awaited)
        {
            var operand = Unwrap(awaited.Operation);
            if (IsOwnCall(operand) || IsDeterministicAwait(operand)) return;
            if (NonDeterministicApis.Classify(operand) is not null) return; // its own rule reports it
            _findings.Add(new Finding(method, DeterminismRules.ForeignAwait, awaited.Syntax.GetLocation(), operand.Syntax.ToString(), null));
        }

        private void CollectWrite(IMethodSymbol method, IOperation target, SyntaxNode syntax)
        {
            if (WrittenStaticMember(target) is { } name)
            {
                _findings.Add(new Finding(method, DeterminismRules.StaticWrite, syntax.GetLocation(), name, null));
            }
            if (IsRootedInState(target))
            {
                _stateWrites.Add(new Finding(method, DeterminismRules.ReadOnlyWritesState, syntax.GetLocation(), target.Syntax.ToString(), null));
            }
        }

        private void AddCall(IMethodSymbol caller, IMethodSymbol callee, Location location) =>
            _calls.Add(new Call(caller, callee.OriginalDefinition, location));

        public void Report(SymbolAnalysisContext context)
        {
            var roots = new Dictionary<IMethodSymbol, EntryKind>(SymbolEqualityComparer.Default);
            foreach (var member in grain.GetMembers().OfType<IMethodSymbol>())
            {
                var kind = ReplicatedGrainModel.EntryKindOf(member, grain);
                if (kind != EntryKind.None) roots[member] = kind;
            }

            var callees = _calls.GroupBy(c => c.Caller, (IEqualityComparer<IMethodSymbol>)SymbolEqualityComparer.Default)
                .ToDictionary(g => g.Key, g => g.ToList(), (IEqualityComparer<IMethodSymbol>)SymbolEqualityComparer.Default);

            // Replicated side: every member reached from a replicated method, with the method that reaches it first.
            var replicated = Reach(roots.Where(r => r.Value == EntryKind.Replicated).Select(r => r.Key), callees, stopAt: null);
            foreach (var finding in _findings)
            {
                if (!replicated.TryGetValue(finding.Method, out var root)) continue;
                var properties = finding.Replacement is null
                    ? ImmutableDictionary<string, string?>.Empty
                    : ImmutableDictionary<string, string?>.Empty.Add(ReplacementProperty, finding.Replacement);
                context.ReportDiagnostic(Diagnostic.Create(finding.Rule, finding.Location, properties, finding.Api, Describe(finding.Method, root)));
            }

            // Read-only side: what a [ReadOnly] method reaches without passing through a replicated method.
            var readOnly = Reach(roots.Where(r => r.Value == EntryKind.ReadOnly).Select(r => r.Key), callees,
                stopAt: m => roots.TryGetValue(m, out var k) && k == EntryKind.Replicated);
            foreach (var write in _stateWrites)
            {
                if (!readOnly.TryGetValue(write.Method, out var root)) continue;
                context.ReportDiagnostic(Diagnostic.Create(write.Rule, write.Location, write.Api, Describe(write.Method, root)));
            }
            foreach (var call in _calls)
            {
                if (!readOnly.TryGetValue(call.Caller, out var root)) continue;
                if (!roots.TryGetValue(call.Callee, out var kind) || kind != EntryKind.Replicated) continue;
                context.ReportDiagnostic(Diagnostic.Create(DeterminismRules.ReadOnlyCallsCommand, call.Location, call.Callee.Name, Describe(call.Caller, root)));
            }
        }

        /// <summary>Breadth-first over the grain's own members: member → the root that reaches it first.</summary>
        private static Dictionary<IMethodSymbol, IMethodSymbol> Reach(IEnumerable<IMethodSymbol> roots,
            Dictionary<IMethodSymbol, List<Call>> callees, System.Func<IMethodSymbol, bool>? stopAt)
        {
            var reached = new Dictionary<IMethodSymbol, IMethodSymbol>(SymbolEqualityComparer.Default);
            var queue = new Queue<IMethodSymbol>();
            foreach (var root in roots)
            {
                reached[root] = root;
                queue.Enqueue(root);
            }
            while (queue.Count > 0)
            {
                var method = queue.Dequeue();
                if (!callees.TryGetValue(method, out var calls)) continue;
                foreach (var call in calls)
                {
                    if (reached.ContainsKey(call.Callee) || (stopAt is not null && stopAt(call.Callee))) continue;
                    reached[call.Callee] = reached[method];
                    queue.Enqueue(call.Callee);
                }
            }
            return reached;
        }

        private static string Describe(IMethodSymbol method, IMethodSymbol root)
        {
            string name = MemberName(method);
            return SymbolEqualityComparer.Default.Equals(method, root)
                ? $"'{name}'"
                : $"'{name}' (reached from '{MemberName(root)}')";
        }

        private static string MemberName(IMethodSymbol method) =>
            method.AssociatedSymbol is IPropertySymbol property ? property.Name : method.Name;

        /// <summary>The grain member an operation belongs to (lambdas and local functions count as their method).</summary>
        private IMethodSymbol? ContainingMethod(ISymbol symbol)
        {
            while (symbol is IMethodSymbol { MethodKind: MethodKind.LocalFunction or MethodKind.AnonymousFunction } inner) symbol = inner.ContainingSymbol;
            if (symbol is IPropertySymbol { GetMethod: { } get }) symbol = get;
            return symbol is IMethodSymbol method && IsMember(method.ContainingType) ? method.OriginalDefinition : null;
        }

        /// <summary>A member of this grain class (members of base classes are analyzed with their own class).</summary>
        private bool IsMember(INamedTypeSymbol? type) =>
            type is not null && SymbolEqualityComparer.Default.Equals(type.OriginalDefinition, grain.OriginalDefinition);

        /// <summary>An invocation of a method of this grain or a base class of it: part of the same call.</summary>
        private bool IsOwnCall(IOperation operation)
        {
            if (operation is not IInvocationOperation invocation) return false;
            var target = invocation.TargetMethod;
            if (target.MethodKind == MethodKind.LocalFunction) return true;
            // A delegate handed in as a parameter or held in a local: its body (a lambda of this grain) is analyzed
            // where it is written.
            if (target.MethodKind == MethodKind.DelegateInvoke) return invocation.Instance is IParameterReferenceOperation or ILocalReferenceOperation;
            if (invocation.Instance is { } instance && instance is not IInstanceReferenceOperation) return false;
            for (var t = grain; t is not null; t = t.BaseType)
            {
                if (SymbolEqualityComparer.Default.Equals(t.OriginalDefinition, target.ContainingType.OriginalDefinition)) return true;
            }
            return false;
        }

        /// <summary>A completed task, or Task.Yield(): awaiting it cannot bring anything from outside the call.</summary>
        private static bool IsDeterministicAwait(IOperation operation)
        {
            var (type, name) = operation switch
            {
                IInvocationOperation i => (i.TargetMethod.ContainingType, i.TargetMethod.Name),
                IPropertyReferenceOperation p => (p.Property.ContainingType, p.Property.Name),
                _ => (null, ""),
            };
            if (type is null) return false;
            string typeName = NonDeterministicApis.FullName(type);
            return typeName is "System.Threading.Tasks.Task" or "System.Threading.Tasks.ValueTask" or "System.Threading.Tasks.Task`1" or "System.Threading.Tasks.ValueTask`1"
                && name is "CompletedTask" or "FromResult" or "FromException" or "FromCanceled" or "Yield";
        }

        /// <summary>Strips conversions and ConfigureAwait from an awaited expression.</summary>
        private static IOperation Unwrap(IOperation operation)
        {
            while (true)
            {
                switch (operation)
                {
                    case IConversionOperation conversion:
                        operation = conversion.Operand;
                        continue;
                    case IInvocationOperation { TargetMethod.Name: "ConfigureAwait", Instance: { } awaited }:
                        operation = awaited;
                        continue;
                    default:
                        return operation;
                }
            }
        }

        private static bool IsReceiverOfGrainCall(IOperation operation)
        {
            var parent = operation.Parent;
            while (parent is IConversionOperation) parent = parent.Parent;
            if (parent is IArgumentOperation) return false;
            return parent is IInvocationOperation or IPropertyReferenceOperation
                && NonDeterministicApis.Classify(parent) is { } outer && outer.Rule == DeterminismRules.GrainCall;
        }

        /// <summary>The static field or property a write targets, or null (constants and locals are fine).</summary>
        private static string? WrittenStaticMember(IOperation target)
        {
            var root = target;
            while (true)
            {
                switch (root)
                {
                    case IFieldReferenceOperation { Field.IsStatic: true, Field.IsConst: false } field:
                        return $"{field.Field.ContainingType.Name}.{field.Field.Name}";
                    case IPropertyReferenceOperation { Property.IsStatic: true } property:
                        return $"{property.Property.ContainingType.Name}.{property.Property.Name}";
                    case IMemberReferenceOperation { Instance: { } instance } when instance.Type?.IsValueType == true:
                        root = instance; // a field of a static struct is part of it
                        continue;
                    case IArrayElementReferenceOperation element:
                        root = element.ArrayReference;
                        continue;
                    default:
                        return null;
                }
            }
        }

        /// <summary>Whether a write target is State itself or something reached from it (State.X, State.List[i], ...).</summary>
        private static bool IsRootedInState(IOperation target)
        {
            var current = target;
            while (current is not null)
            {
                switch (current)
                {
                    case IPropertyReferenceOperation property when ReplicatedGrainModel.IsStateProperty(property.Property.OriginalDefinition):
                        return true;
                    case IMemberReferenceOperation member:
                        current = member.Instance;
                        continue;
                    case IArrayElementReferenceOperation element:
                        current = element.ArrayReference;
                        continue;
                    case IConversionOperation conversion:
                        current = conversion.Operand;
                        continue;
                    default:
                        return false;
                }
            }
            return false;
        }

        private static readonly ImmutableHashSet<string> Mutators = ImmutableHashSet.Create(
            "Add", "AddRange", "Remove", "RemoveAt", "RemoveAll", "RemoveRange", "Clear", "Insert", "InsertRange",
            "Push", "Pop", "Enqueue", "Dequeue", "TryAdd", "TryRemove", "TryDequeue", "TryPop", "Sort", "Reverse",
            "UnionWith", "IntersectWith", "ExceptWith", "SymmetricExceptWith", "AddOrUpdate", "GetOrAdd", "TryUpdate");

        /// <summary>A well-known mutating collection method called on something reached from State.</summary>
        private static bool IsStateMutator(IInvocationOperation invocation) =>
            invocation.Instance is { } instance && Mutators.Contains(invocation.TargetMethod.Name)
            && !invocation.TargetMethod.ContainingType.Name.StartsWith("Immutable", System.StringComparison.Ordinal)
            && IsRootedInState(instance);
    }
}

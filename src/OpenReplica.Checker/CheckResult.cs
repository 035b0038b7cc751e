namespace OpenReplica.Checker;

/// <summary>Outcome of a linearizability check.</summary>
public enum Verdict
{
    /// <summary>A linearization exists (for every partition).</summary>
    Linearizable,

    /// <summary>No linearization exists: a definite consistency violation.</summary>
    NotLinearizable,

    /// <summary>The time budget ran out (or the check was cancelled) before the search could decide. Never a guess.</summary>
    Unknown,
}

/// <summary>Options of <see cref="Linearizability.Check{TState, TInput, TOutput}(IModel{TState, TInput, TOutput}, IReadOnlyList{Operation{TInput, TOutput}}, CheckOptions)"/>.</summary>
public sealed record CheckOptions
{
    /// <summary>Time allowed to decide the verdict (all partitions together).</summary>
    public TimeSpan Budget { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>Whether to minimise a violation into an explanation (smallest failing prefix + operations involved).</summary>
    public bool Explain { get; init; } = true;

    /// <summary>Extra time allowed to build the explanation once a violation is found; null = same as <see cref="Budget"/>.
    /// If it runs out, the explanation is less precise; the verdict is unaffected.</summary>
    public TimeSpan? ExplainBudget { get; init; }

    /// <summary>Cancels the search; a cancelled check returns <see cref="Verdict.Unknown"/>.</summary>
    public CancellationToken CancellationToken { get; init; }
}

/// <summary>Result of a linearizability check.</summary>
public sealed class CheckResult
{
    /// <summary>Creates a result (public so that other code can build or wrap results).</summary>
    public CheckResult(
        Verdict verdict,
        string? explanation = null,
        TimeSpan elapsed = default,
        string? partitionKey = null,
        int? failingOperation = null,
        IReadOnlyList<int>? involvedOperations = null,
        int? failingPrefixLength = null)
    {
        Verdict = verdict;
        Explanation = explanation;
        Elapsed = elapsed;
        PartitionKey = partitionKey;
        FailingOperation = failingOperation;
        InvolvedOperations = involvedOperations ?? [];
        FailingPrefixLength = failingPrefixLength;
    }

    /// <summary>The verdict.</summary>
    public Verdict Verdict { get; }

    /// <summary>Null when linearizable; for a violation, the smallest failing prefix and the operations involved;
    /// for <see cref="Verdict.Unknown"/>, why the search stopped.</summary>
    public string? Explanation { get; }

    /// <summary>Wall-clock time spent (search and explanation).</summary>
    public TimeSpan Elapsed { get; }

    /// <summary>Partition key (see <see cref="IModel{TState, TInput, TOutput}.PartitionKey"/>) of the violating or undecided partition.</summary>
    public string? PartitionKey { get; }

    /// <summary>Index in the checked history of the operation whose response cannot be linearized (end of the smallest failing prefix).</summary>
    public int? FailingOperation { get; }

    /// <summary>Indices in the checked history of the operations concurrent with the failing one (including it).</summary>
    public IReadOnlyList<int> InvolvedOperations { get; }

    /// <summary>Number of call/return events (of the violating partition, in time order) in the smallest prefix that cannot be linearized.</summary>
    public int? FailingPrefixLength { get; }

    /// <summary>Shorthand for <c>Verdict == Verdict.Linearizable</c>.</summary>
    public bool IsLinearizable => Verdict == Verdict.Linearizable;

    /// <inheritdoc />
    public override string ToString() => Explanation is null ? Verdict.ToString() : $"{Verdict}: {Explanation}";
}

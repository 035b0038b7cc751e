namespace OpenReplica.Checker;

/// <summary>Outcome of a linearizability check.</summary>
public enum Verdict
{
    /// <summary>A linearization exists (for every partition).</summary>
    Linearizable,

    /// <summary>No linearization exists: a definite consistency violation.</summary>
    NotLinearizable,

    /// <summary>The time or step budget ran out (or the check was cancelled) before the search could decide. Never a guess.</summary>
    Unknown,
}

/// <summary>Options of <see cref="Linearizability.Check{TState, TInput, TOutput}(IModel{TState, TInput, TOutput}, IReadOnlyList{Operation{TInput, TOutput}}, CheckOptions)"/>.</summary>
public sealed record CheckOptions
{
    /// <summary>Time allowed to decide the verdict (all partitions together).</summary>
    public TimeSpan Budget { get; init; } = TimeSpan.FromSeconds(10);

    /// <summary>
    /// Search steps allowed per partition (null: no limit but <see cref="Budget"/>). A partition still undecided after
    /// this many steps stays <see cref="Verdict.Unknown"/>. Unlike the time budget, this limit does not depend on the
    /// machine, its load or the number of threads: the same history gets the same verdict everywhere (what a
    /// deterministic simulator needs, whose failing seed must fail again when replayed).
    /// </summary>
    public long? MaxStepsPerPartition { get; init; }

    /// <summary>Whether to minimise a violation into an explanation (smallest failing prefix + operations involved).</summary>
    public bool Explain { get; init; } = true;

    /// <summary>Extra time allowed to build the explanation once a violation is found; null = same as <see cref="Budget"/>.
    /// If it runs out, the explanation is less precise; the verdict is unaffected.</summary>
    public TimeSpan? ExplainBudget { get; init; }

    /// <summary>Cancels the search; a cancelled check returns <see cref="Verdict.Unknown"/>.</summary>
    public CancellationToken CancellationToken { get; init; }

    /// <summary>Default of <see cref="Parallelism"/>: one search thread per core.</summary>
    public static int DefaultParallelism => Environment.ProcessorCount;

    /// <summary>Threads searching partitions at the same time (at least 1). Whatever the number, partitions are
    /// interleaved in growing slices, so one hard partition cannot starve the others.</summary>
    public int Parallelism { get; init; } = DefaultParallelism;

    /// <summary>Whether to record, per partition, the linearization found and the model state after each operation
    /// (<see cref="PartitionResult.Linearization"/>; for a violation, that of the longest linearizable prefix, which
    /// needs <see cref="Explain"/>). Used by <see cref="HistoryHtml"/>.</summary>
    public bool RecordLinearizations { get; init; }
}

/// <summary>One operation of a linearization and the model state right after it (<see cref="IModel{TState, TInput, TOutput}.DescribeState"/>).</summary>
/// <param name="Operation">Index in the checked history.</param>
/// <param name="State">The model state after the operation took effect.</param>
public sealed record LinearizedOperation(int Operation, string State);

/// <summary>The outcome of one partition (see <see cref="IModel{TState, TInput, TOutput}.PartitionKey"/>).</summary>
/// <param name="Key">The partition key (null for an unpartitioned model).</param>
/// <param name="Verdict">Linearizable, not linearizable, or unknown (not decided: the time ran out, or another
/// partition was found not linearizable first and the search stopped).</param>
/// <param name="Operations">Indices in the checked history of the partition's operations.</param>
/// <param name="Linearization">When <see cref="CheckOptions.RecordLinearizations"/> is set: the order the operations
/// were linearized in, with the state after each; for a violating partition, the linearization of the longest prefix
/// that can be linearized; for an undecided partition, the longest partial linearization the search reached.
/// Indeterminate operations left out never took effect. Null when not recorded.</param>
/// <param name="FailingOperation">For the violating partition (with <see cref="CheckOptions.Explain"/>): the operation
/// whose response cannot be placed after the longest linearizable prefix.</param>
public sealed record PartitionResult(
    string? Key,
    Verdict Verdict,
    IReadOnlyList<int> Operations,
    IReadOnlyList<LinearizedOperation>? Linearization = null,
    int? FailingOperation = null);

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
        int? failingPrefixLength = null,
        IReadOnlyList<PartitionResult>? partitions = null,
        IReadOnlyList<string?>? undecidedPartitions = null)
    {
        Partitions = partitions ?? [];
        UndecidedPartitions = undecidedPartitions ?? [];
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

    /// <summary>Every partition's outcome, in the order the partitions first appear in the history.</summary>
    public IReadOnlyList<PartitionResult> Partitions { get; }

    /// <summary>For <see cref="Verdict.Unknown"/>: the keys of the partitions the search could not decide in time.</summary>
    public IReadOnlyList<string?> UndecidedPartitions { get; }

    /// <summary>For <see cref="Verdict.Unknown"/>: every undecided partition used up its steps
    /// (<see cref="CheckOptions.MaxStepsPerPartition"/>), so the same history is undecided on any machine; false when
    /// time ran out or the check was cancelled.</summary>
    public bool OutOfSteps { get; init; }

    /// <summary>Shorthand for <c>Verdict == Verdict.Linearizable</c>.</summary>
    public bool IsLinearizable => Verdict == Verdict.Linearizable;

    /// <inheritdoc />
    public override string ToString() => Explanation is null ? Verdict.ToString() : $"{Verdict}: {Explanation}";
}

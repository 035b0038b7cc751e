namespace OpenReplica.Checker;

/// <summary>
/// A sequential specification: the checker decides whether a concurrent history is equivalent to some sequential run of
/// this model that respects real-time order.
/// </summary>
/// <remarks>
/// The checker searches partitions on several threads at once (<see cref="CheckOptions.Parallelism"/>), so the model's
/// methods may be called concurrently, for different partitions: keep the model stateless (the built-in ones are), or
/// check with <c>Parallelism = 1</c>.
/// States must be immutable values (the checker keeps old states around to backtrack and caches them), compared with
/// <see cref="StateComparer"/>. Only <see cref="Init"/> and <see cref="Step"/> must be implemented; everything else
/// has a sensible default.
/// </remarks>
public interface IModel<TState, TInput, TOutput>
{
    /// <summary>The state before any operation (of each partition).</summary>
    TState Init();

    /// <summary>
    /// Applies a completed operation: returns whether <paramref name="output"/> is a legal response to
    /// <paramref name="input"/> in <paramref name="state"/>, and the state after the operation.
    /// </summary>
    (bool Ok, TState Next) Step(TState state, TInput input, TOutput? output);

    /// <summary>
    /// Applies an indeterminate operation (its caller never saw a response) at the point where it is linearized.
    /// Any response is acceptable, so this normally returns Ok = true. "Never took effect" needs no special case:
    /// the checker can always linearize an indeterminate operation after everything else.
    /// The default calls <see cref="Step"/> with a default (null) output, which the model must then treat as "unknown".
    /// </summary>
    (bool Ok, TState Next) StepIndeterminate(TState state, TInput input) => Step(state, input, default);

    /// <summary>
    /// Operations with different keys act on independent state and are checked separately (P-compositionality of
    /// linearizability), each partition starting from <see cref="Init"/>. Null (the default) puts everything in one partition.
    /// </summary>
    string? PartitionKey(TInput input) => null;

    /// <summary>Equality and hashing of states, used by the checker's state cache.</summary>
    IEqualityComparer<TState> StateComparer => EqualityComparer<TState>.Default;

    /// <summary>Human-readable state, for explanations.</summary>
    string DescribeState(TState state) => state?.ToString() ?? "nil";

    /// <summary>Human-readable operation, for explanations, e.g. <c>cas(1 -> 2) ok</c>.</summary>
    string DescribeOperation(TInput input, TOutput? output, bool indeterminate)
        => indeterminate ? $"{input} -> ?" : $"{input} -> {output}";
}

namespace OpenReplica.Orleans;

/// <summary>What executing a chosen command produced: its result, or the exception the method threw.</summary>
internal readonly record struct CommandOutcome(object? Result, Exception? Exception)
{
    /// <summary>The method deferred its reply (<see cref="ReplicatedContext.Defer"/>): its caller keeps waiting.</summary>
    public bool Deferred => Exception is DeferredReplySignal;

    /// <summary>Deferred calls this command answered.</summary>
    public IReadOnlyList<DeferredCompletion> Completions { get; init; } = [];

    /// <summary>The result, or the method's exception rethrown with its original stack.</summary>
    public object? GetResultOrThrow()
    {
        if (Exception is not null)
        {
            System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(Exception);
        }

        return Result;
    }
}

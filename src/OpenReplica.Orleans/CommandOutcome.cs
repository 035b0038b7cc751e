namespace OpenReplica.Orleans;

/// <summary>What executing a chosen command produced: its result, or the exception the method threw.</summary>
internal readonly record struct CommandOutcome(object? Result, Exception? Exception)
{
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
